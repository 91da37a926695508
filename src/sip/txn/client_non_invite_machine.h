#pragma once

#include <cstdint>
#include <string_view>

#include "sip/txn/action.h"
#include "sip/txn/armed_timers.h"
#include "sip/txn/machine_inputs.h"
#include "sip/txn/timer_values.h"

namespace herald::sip::txn {

// RFC 3261 §17.1.2, Figure 6: the non-INVITE client transaction as a pure state machine.
//
//   start()                     -> Trying: send request, arm E (unreliable only), arm F
//   Trying     Timer E          -> send request, re-arm E with min(2E, T2)
//   Proceeding Timer E          -> send request, re-arm E with T2
//   Trying/Proceeding Timer F   -> report timeout, Terminated
//   Trying/Proceeding 1xx       -> deliver; Proceeding
//   Trying/Proceeding 200-699   -> deliver; Completed (E, F cancelled; arm K; reliable:
//                                  K = 0, so Terminated at once)
//   Completed  Timer K          -> Terminated
//   Trying/Proceeding transport error -> report transport error, Terminated
// Any other input is ignored: responses in Completed (retransmissions, absorbed), timers
// that are not armed, a transport error in Completed (nothing is sent there).
//
// Threading: none of its own; owned and driven by one transaction on one shard.
// Contract: start() exactly once, before any other input (asserted). Inputs after
// Terminated are ignored.
class ClientNonInviteMachine {
 public:
  enum class State : std::uint8_t { kIdle, kTrying, kProceeding, kCompleted, kTerminated };

  ClientNonInviteMachine(const TimerValues& timers, Reliability reliability)
      : timers_(timers), reliability_(reliability) {}

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
  State state_ = State::kIdle;
  Duration timer_e_{};  // interval Timer E is currently armed with
  ArmedTimers armed_;
};

std::string_view to_string(ClientNonInviteMachine::State state);

}  // namespace herald::sip::txn
