#pragma once

#include <algorithm>
#include <chrono>

#include "sip/txn/clock.h"

namespace herald::sip::txn {

// RFC 3261 §17 timer values (Table 4), with RFC 6026's Timers L and M. One instance per
// transaction layer; T1, T2 and T4 are configurable (§17.1.1.1 allows other values, e.g. a
// larger T1 on high-latency access networks), every timer A-M is derived from them.
// `reliable` means the transport is reliable (TCP, TLS, SCTP, WebSocket), where
// retransmission timers are not used and the "absorb retransmissions" waits are zero.
struct TimerValues {
  // Lower bound of Timer D on unreliable transports: "at least 32 seconds" (§17.1.1.2),
  // whatever T1 is, because it covers the peer's retransmissions on the peer's T1.
  static constexpr Duration kTimerDMinimum = std::chrono::seconds(32);

  Duration t1 = std::chrono::milliseconds(500);  // RTT estimate
  Duration t2 = std::chrono::seconds(4);         // cap on non-INVITE and response retransmits
  Duration t4 = std::chrono::seconds(5);         // max time a message stays in the network

  // Timer A: INVITE request retransmit interval (unreliable only); starts at T1, doubles
  // after each firing, uncapped (next_timer_a()).
  Duration timer_a_initial() const { return t1; }
  static Duration next_timer_a(Duration current) { return 2 * current; }
  // Timer B: INVITE transaction timeout, 64*T1.
  Duration timer_b() const { return 64 * t1; }
  // Timer D: wait time for response retransmits: max(32 s, 64*T1) unreliable, 0 reliable.
  Duration timer_d(bool reliable) const {
    return reliable ? Duration::zero() : std::max(kTimerDMinimum, 64 * t1);
  }
  // Timer E: non-INVITE request retransmit interval (unreliable only); starts at T1, then
  // min(2E, T2); in Proceeding it is T2 (§17.1.2.2).
  Duration timer_e_initial() const { return t1; }
  Duration next_timer_e(Duration current) const { return std::min(2 * current, t2); }
  // Timer F: non-INVITE transaction timeout, 64*T1.
  Duration timer_f() const { return 64 * t1; }
  // Timer G: INVITE final response retransmit interval (unreliable only); T1, then
  // min(2G, T2).
  Duration timer_g_initial() const { return t1; }
  Duration next_timer_g(Duration current) const { return std::min(2 * current, t2); }
  // Timer H: wait time for ACK receipt, 64*T1.
  Duration timer_h() const { return 64 * t1; }
  // Timer I: wait time for ACK retransmits: T4 unreliable, 0 reliable.
  Duration timer_i(bool reliable) const { return reliable ? Duration::zero() : t4; }
  // Timer J: wait time for non-INVITE request retransmits: 64*T1 unreliable, 0 reliable.
  Duration timer_j(bool reliable) const { return reliable ? Duration::zero() : 64 * t1; }
  // Timer K: wait time for non-INVITE response retransmits: T4 unreliable, 0 reliable.
  Duration timer_k(bool reliable) const { return reliable ? Duration::zero() : t4; }
  // Timer L (RFC 6026): server INVITE "Accepted" wait for INVITE retransmits and ACKs of
  // 2xx, 64*T1 on every transport.
  Duration timer_l() const { return 64 * t1; }
  // Timer M (RFC 6026): client INVITE "Accepted" wait for 2xx retransmits, 64*T1.
  Duration timer_m() const { return 64 * t1; }
};

}  // namespace herald::sip::txn
