#pragma once

#include <cstdint>
#include <string_view>

#include "sip/txn/action.h"
#include "sip/txn/armed_timers.h"
#include "sip/txn/machine_inputs.h"
#include "sip/txn/timer_values.h"

namespace herald::sip::txn {

// RFC 3261 §17.1.1, Figure 5: the INVITE client transaction, as a pure state machine, with
// RFC 6026's "Accepted" state (§7.2, Timer M) unless SuccessHandling::kTerminate is chosen.
//
//   start()                       -> Calling: send request, arm A (unreliable only), arm B
//   Calling    Timer A            -> send request, re-arm A at twice the interval
//   Calling    Timer B            -> report timeout, Terminated
//   Calling/Proceeding 1xx        -> deliver; Calling leaves for Proceeding (A, B cancelled)
//   Calling/Proceeding 2xx        -> deliver; Accepted (arm M)  | kTerminate: Terminated
//   Calling/Proceeding 3xx-6xx    -> send ACK, deliver; Completed (arm D; reliable: D = 0,
//                                    so Terminated at once)
//   Completed  3xx-6xx            -> send ACK again (not delivered)
//   Completed  Timer D            -> Terminated
//   Accepted   2xx                -> deliver (retransmission or another fork's 2xx)
//   Accepted   Timer M            -> Terminated
//   Calling/Proceeding/Completed transport error -> report transport error, Terminated
// Any other input in a state is ignored (empty action list): responses that do not apply,
// timers that are not armed, and a transport error in Accepted (nothing is sent there).
//
// Threading: none of its own; owned and driven by one transaction on one shard.
// Contract: start() exactly once, before any other input (asserted). Inputs after
// Terminated are ignored, so a late event reaching a dying transaction is harmless.
class ClientInviteMachine {
 public:
  enum class State : std::uint8_t { kIdle, kCalling, kProceeding, kCompleted, kAccepted,
                                    kTerminated };

  ClientInviteMachine(const TimerValues& timers, Reliability reliability,
                      SuccessHandling success = SuccessHandling::kAcceptedState)
      : timers_(timers), reliability_(reliability), success_(success) {}

  Actions start();
  Actions on_response(ResponseClass response);
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
  State state_ = State::kIdle;
  Duration timer_a_{};  // interval Timer A is currently armed with
  ArmedTimers armed_;
};

std::string_view to_string(ClientInviteMachine::State state);

}  // namespace herald::sip::txn
