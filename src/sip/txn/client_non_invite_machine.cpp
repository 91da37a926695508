#include "sip/txn/client_non_invite_machine.h"

namespace herald::sip::txn {

Actions ClientNonInviteMachine::start() {
  assert(state_ == State::kIdle);
  Actions out;
  state_ = State::kTrying;
  out.push_back(Action::of(ActionKind::kSendRequest));
  if (!reliable()) {
    timer_e_ = timers_.timer_e_initial();
    armed_.arm(out, TimerName::kE, timer_e_);
  }
  armed_.arm(out, TimerName::kF, timers_.timer_f());
  return out;
}

Actions ClientNonInviteMachine::on_response(ResponseClass response) {
  assert(state_ != State::kIdle);
  Actions out;
  if (state_ != State::kTrying && state_ != State::kProceeding) return out;
  if (response == ResponseClass::kProvisional) {
    state_ = State::kProceeding;
    out.push_back(Action::of(ActionKind::kDeliverResponse));
    return out;
  }
  armed_.cancel(out, TimerName::kE);
  armed_.cancel(out, TimerName::kF);
  out.push_back(Action::of(ActionKind::kDeliverResponse));
  if (const Duration k = timers_.timer_k(reliable()); k > Duration::zero()) {
    state_ = State::kCompleted;
    armed_.arm(out, TimerName::kK, k);
  } else {
    terminate(out);
  }
  return out;
}

Actions ClientNonInviteMachine::on_timer(TimerName timer) {
  assert(state_ != State::kIdle);
  Actions out;
  if (!armed_.fired(timer)) return out;
  switch (timer) {
    case TimerName::kE:
      // Armed only in Trying and Proceeding; a final response cancels it.
      out.push_back(Action::of(ActionKind::kSendRequest));
      timer_e_ = state_ == State::kProceeding ? timers_.t2 : timers_.next_timer_e(timer_e_);
      armed_.arm(out, TimerName::kE, timer_e_);
      break;
    case TimerName::kF:
      out.push_back(Action::of(ActionKind::kReportTimeout));
      terminate(out);
      break;
    case TimerName::kK:
      terminate(out);
      break;
    default:
      assert(false && "timer never armed by this machine");
      break;
  }
  return out;
}

Actions ClientNonInviteMachine::on_transport_error() {
  assert(state_ != State::kIdle);
  Actions out;
  if (state_ != State::kTrying && state_ != State::kProceeding) return out;
  out.push_back(Action::of(ActionKind::kReportTransportError));
  terminate(out);
  return out;
}

void ClientNonInviteMachine::terminate(Actions& out) {
  state_ = State::kTerminated;
  armed_.terminate(out);
}

std::string_view to_string(ClientNonInviteMachine::State state) {
  using State = ClientNonInviteMachine::State;
  switch (state) {
    case State::kIdle: return "Idle";
    case State::kTrying: return "Trying";
    case State::kProceeding: return "Proceeding";
    case State::kCompleted: return "Completed";
    case State::kTerminated: return "Terminated";
  }
  return "?";
}

}  // namespace herald::sip::txn
