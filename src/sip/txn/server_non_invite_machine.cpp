#include "sip/txn/server_non_invite_machine.h"

namespace herald::sip::txn {

Actions ServerNonInviteMachine::start() {
  assert(state_ == State::kIdle);
  Actions out;
  state_ = State::kTrying;
  out.push_back(Action::of(ActionKind::kDeliverRequest));
  return out;
}

Actions ServerNonInviteMachine::on_request() {
  assert(state_ != State::kIdle);
  Actions out;
  if ((state_ == State::kProceeding || state_ == State::kCompleted) && !abandoned_) {
    out.push_back(Action::of(ActionKind::kResendResponse));
  }
  return out;
}

Actions ServerNonInviteMachine::on_tu_abandon() {
  assert(state_ != State::kIdle);
  Actions out;
  if (state_ != State::kTrying && state_ != State::kProceeding) return out;
  abandoned_ = true;
  if (const Duration j = timers_.timer_j(reliable()); j > Duration::zero()) {
    state_ = State::kCompleted;
    armed_.arm(out, TimerName::kJ, j);
  } else {
    terminate(out);
  }
  return out;
}

Actions ServerNonInviteMachine::on_tu_response(ResponseClass response) {
  assert(state_ != State::kIdle);
  Actions out;
  if (state_ != State::kTrying && state_ != State::kProceeding) return out;
  out.push_back(Action::of(ActionKind::kSendResponse));
  if (response == ResponseClass::kProvisional) {
    state_ = State::kProceeding;
  } else if (const Duration j = timers_.timer_j(reliable()); j > Duration::zero()) {
    state_ = State::kCompleted;
    armed_.arm(out, TimerName::kJ, j);
  } else {
    terminate(out);
  }
  return out;
}

Actions ServerNonInviteMachine::on_timer(TimerName timer) {
  assert(state_ != State::kIdle);
  Actions out;
  if (!armed_.fired(timer)) return out;
  assert(timer == TimerName::kJ && "timer never armed by this machine");
  terminate(out);
  return out;
}

Actions ServerNonInviteMachine::on_transport_error() {
  assert(state_ != State::kIdle);
  Actions out;
  if (state_ != State::kProceeding && state_ != State::kCompleted) return out;
  out.push_back(Action::of(ActionKind::kReportTransportError));
  terminate(out);
  return out;
}

void ServerNonInviteMachine::terminate(Actions& out) {
  state_ = State::kTerminated;
  armed_.terminate(out);
}

std::string_view to_string(ServerNonInviteMachine::State state) {
  using State = ServerNonInviteMachine::State;
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
