#pragma once

#include <cstdint>
#include <string_view>

#include "sip/txn/action.h"
#include "sip/txn/armed_timers.h"
#include "sip/txn/machine_inputs.h"
#include "sip/txn/timer_values.h"

namespace herald::sip::txn {

// RFC 3261 §17.2.2, Figure 8: the non-INVITE server transaction as a pure state machine.
//
//   start()                          -> Trying: deliver request
//   Trying     request retransmit    -> absorbed (no response to resend yet)
//   Trying/Proceeding 1xx from TU    -> send response; Proceeding
//   Trying/Proceeding 200-699 from TU -> send response; Completed (arm J; reliable: J = 0,
//                                       so Terminated at once)
//   Proceeding/Completed request     -> resend last response
//   Trying/Proceeding TU abandons    -> Completed without a response (RFC 4320 §4.2: a request
//                                       the element cannot answer in time gets none): arm J,
//                                       and retransmissions are absorbed until it fires
//   Completed  Timer J               -> Terminated
//   Proceeding/Completed transport error -> report transport error, Terminated
// Any other input is ignored: TU responses after the final, timers that are not armed, a
// transport error in Trying (nothing was sent yet).
//
// Threading: none of its own; owned and driven by one transaction on one shard.
// Contract: start() exactly once, before any other input (asserted). Inputs after
// Terminated are ignored.
class ServerNonInviteMachine {
 public:
  enum class State : std::uint8_t { kIdle, kTrying, kProceeding, kCompleted, kTerminated };

  ServerNonInviteMachine(const TimerValues& timers, Reliability reliability)
      : timers_(timers), reliability_(reliability) {}

  Actions start();
  // A retransmission of the request arrived.
  Actions on_request();
  Actions on_tu_response(ResponseClass response);
  Actions on_tu_abandon();
  Actions on_timer(TimerName timer);
  Actions on_transport_error();

  State state() const { return state_; }
  bool terminated() const { return state_ == State::kTerminated; }
  // Completed by on_tu_abandon(): no final response was sent.
  bool abandoned() const { return abandoned_; }

 private:
  bool reliable() const { return reliability_ == Reliability::kReliable; }
  void terminate(Actions& out);

  TimerValues timers_;
  Reliability reliability_;
  State state_ = State::kIdle;
  bool abandoned_ = false;
  ArmedTimers armed_;
};

std::string_view to_string(ServerNonInviteMachine::State state);

}  // namespace herald::sip::txn
