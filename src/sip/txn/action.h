#pragma once

#include <array>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sip/txn/clock.h"

namespace herald::sip::txn {

// The RFC 3261 Table 4 timers, plus RFC 6026's L and M.
enum class TimerName : std::uint8_t { kA, kB, kD, kE, kF, kG, kH, kI, kJ, kK, kL, kM };
inline constexpr std::size_t kTimerNameCount = 12;

// What a state machine asks its wrapper (the transaction object) to do. Machines hold no
// messages, sockets or timers: they return these actions and the wrapper executes them in
// order, right away, before feeding the machine its next input.
enum class ActionKind : std::uint8_t {
  // Client: hand the request to the transport (first transmission or a retransmission).
  kSendRequest,
  // Client INVITE: build the ACK for the 3xx-6xx response just received (§17.1.1.3) and send
  // it to the same destination as the INVITE. Emitted again for each retransmitted final.
  kSendAck,
  // Server INVITE: build a 100 (Trying) for the request (§8.2.6), remember it as the last
  // response and send it.
  kSendTrying,
  // Server: send the response the TU has just passed down and remember it as the last
  // response. Only emitted in reply to on_tu_response(); when a machine ignores a TU
  // response (e.g. one after a final), it emits nothing and the wrapper drops it.
  kSendResponse,
  // Server: send the last response again (request retransmission, Timer G).
  kResendResponse,
  // Server: pass the request just received to the TU: the initial request from start(),
  // and (RFC 6026 Accepted state) an ACK for a 2xx.
  kDeliverRequest,
  // Client: pass the response just received to the TU.
  kDeliverResponse,
  // Tell the TU the transaction timed out (Timer B, F or H).
  kReportTimeout,
  // Tell the TU the transport failed to deliver a message of this transaction.
  kReportTransportError,
  // Arm `timer` to fire after `duration`; the wrapper calls on_timer(timer) when it fires.
  // A machine never arms a timer that is already armed without cancelling it first.
  kArmTimer,
  // Cancel `timer`; emitted only for a timer the machine armed and that has not fired.
  kCancelTimer,
  // Always the last action of the last non-empty list: the transaction is over and can be
  // destroyed. Every timer the machine armed has fired or been cancelled before this.
  kTerminated,
};

struct Action {
  ActionKind kind{};
  TimerName timer{};     // kArmTimer and kCancelTimer only
  Duration duration{};   // kArmTimer only

  static constexpr Action of(ActionKind kind) { return Action{kind, {}, {}}; }
  static constexpr Action arm(TimerName timer, Duration duration) {
    return Action{ActionKind::kArmTimer, timer, duration};
  }
  static constexpr Action cancel(TimerName timer) {
    return Action{ActionKind::kCancelTimer, timer, {}};
  }
  friend bool operator==(const Action&, const Action&) = default;
};

// A small fixed-capacity list of actions: no allocation on the hot path. Capacity covers
// the longest transition of any machine (client INVITE 3xx-6xx in Calling: five actions).
class Actions {
 public:
  static constexpr std::size_t kCapacity = 8;

  constexpr void push_back(const Action& action) {
    assert(size_ < kCapacity);
    items_[size_++] = action;
  }
  constexpr std::size_t size() const { return size_; }
  constexpr bool empty() const { return size_ == 0; }
  constexpr const Action& operator[](std::size_t i) const {
    assert(i < size_);
    return items_[i];
  }
  constexpr const Action* begin() const { return items_.data(); }
  constexpr const Action* end() const { return items_.data() + size_; }

 private:
  std::array<Action, kCapacity> items_{};
  std::size_t size_ = 0;
};

std::string_view to_string(TimerName timer);
std::string_view to_string(ActionKind kind);

}  // namespace herald::sip::txn
