#pragma once

#include <cstdint>
#include <string_view>

#include "sip/txn/action.h"
#include "sip/txn/armed_timers.h"
#include "sip/txn/machine_inputs.h"
#include "sip/txn/timer_values.h"

namespace herald::sip::txn {

// Whether the server INVITE transaction answers 100 (Trying) by itself. §17.2.1: it MUST
// unless it knows the TU will send a provisional or final response within 200 ms.
enum class TryingPolicy : std::uint8_t { kSendAtOnce, kLeftToTu };

// RFC 3261 §17.2.1, Figure 7: the INVITE server transaction as a pure state machine, with
// RFC 6026's "Accepted" state (§7.1, Timer L) unless SuccessHandling::kTerminate is chosen.
//
// Choice of 2xx handling: by default Herald follows RFC 6026. After a 2xx from the TU the
// transaction stays in Accepted for Timer L = 64*T1, absorbing INVITE retransmissions (which
// RFC 3261 alone would hand to the TU as a new request), passing each ACK for the 2xx to the
// TU, and sending further 2xx the TU passes down. As in both RFCs, the transaction itself
// never retransmits a 2xx: the TU (UAS core, §13.3.1.4) does, and the proxy core forwards
// the 2xx retransmissions it receives. kTerminate gives Figure 7 as RFC 3261 printed it.
//
//   start()                       -> Proceeding: deliver request; send 100 (kSendAtOnce)
//   Proceeding INVITE             -> resend last response (absorbed if none was sent yet)
//   Proceeding 1xx from TU        -> send response
//   Proceeding 2xx from TU        -> send response; Accepted (arm L) | kTerminate: Terminated
//   Proceeding 3xx-6xx from TU    -> send response; Completed: arm G (unreliable only), H
//   Completed  INVITE / Timer G   -> resend response (Timer G re-armed with min(2G, T2))
//   Completed  ACK                -> Confirmed (G, H cancelled; arm I; reliable: I = 0, so
//                                    Terminated at once)
//   Completed  Timer H            -> report timeout (the ACK never came), Terminated
//   Confirmed  INVITE / ACK       -> absorbed
//   Confirmed  Timer I            -> Terminated
//   Accepted   INVITE             -> absorbed
//   Accepted   ACK                -> deliver request (the ACK) to the TU
//   Accepted   2xx from TU        -> send response
//   Accepted   Timer L            -> Terminated
//   Proceeding/Completed transport error -> report transport error, Terminated
//   Accepted   transport error    -> report transport error, stay (only a TU 2xx is sent
//                                    there; the TU decides, the transaction still has to
//                                    absorb INVITE retransmissions until Timer L)
// Any other input is ignored: TU responses after a final, ACKs outside Completed/Accepted,
// timers that are not armed, a transport error in Confirmed (nothing is sent there).
//
// Threading: none of its own; owned and driven by one transaction on one shard.
// Contract: start() exactly once, before any other input (asserted). Inputs after
// Terminated are ignored.
class ServerInviteMachine {
 public:
  enum class State : std::uint8_t { kIdle, kProceeding, kCompleted, kConfirmed, kAccepted,
                                    kTerminated };

  ServerInviteMachine(const TimerValues& timers, Reliability reliability,
                      SuccessHandling success = SuccessHandling::kAcceptedState,
                      TryingPolicy trying = TryingPolicy::kSendAtOnce)
      : timers_(timers), reliability_(reliability), success_(success), trying_(trying) {}

  Actions start();
  // A retransmission of the INVITE arrived.
  Actions on_request();
  // An ACK matching this transaction arrived (§17.2.3; for a 2xx, RFC 6026 §8.9).
  Actions on_ack();
  Actions on_tu_response(ResponseClass response);
  Actions on_timer(TimerName timer);
  Actions on_transport_error();

  State state() const { return state_; }
  bool terminated() const { return state_ == State::kTerminated; }

 private:
  bool reliable() const { return reliability_ == Reliability::kReliable; }
  void terminate(Actions& out);

  TimerValues timers_;
  Reliability reliability_;
  SuccessHandling success_;
  TryingPolicy trying_;
  State state_ = State::kIdle;
  bool sent_response_ = false;  // a provisional (or the 100) was sent in Proceeding
  Duration timer_g_{};          // interval Timer G is currently armed with
  ArmedTimers armed_;
};

std::string_view to_string(ServerInviteMachine::State state);

}  // namespace herald::sip::txn
