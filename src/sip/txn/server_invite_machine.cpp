#include "sip/txn/server_invite_machine.h"

namespace herald::sip::txn {

Actions ServerInviteMachine::start() {
  assert(state_ == State::kIdle);
  Actions out;
  state_ = State::kProceeding;
  out.push_back(Action::of(ActionKind::kDeliverRequest));
  if (trying_ == TryingPolicy::kSendAtOnce) {
    out.push_back(Action::of(ActionKind::kSendTrying));
    sent_response_ = true;
  }
  return out;
}

Actions ServerInviteMachine::on_request() {
  assert(state_ != State::kIdle);
  Actions out;
  if ((state_ == State::kProceeding && sent_response_) || state_ == State::kCompleted) {
    out.push_back(Action::of(ActionKind::kResendResponse));
  }
  return out;
}

Actions ServerInviteMachine::on_ack() {
  assert(state_ != State::kIdle);
  Actions out;
  if (state_ == State::kCompleted) {
    armed_.cancel(out, TimerName::kG);
    armed_.cancel(out, TimerName::kH);
    if (const Duration i = timers_.timer_i(reliable()); i > Duration::zero()) {
      state_ = State::kConfirmed;
      armed_.arm(out, TimerName::kI, i);
    } else {
      terminate(out);
    }
  } else if (state_ == State::kAccepted) {
    out.push_back(Action::of(ActionKind::kDeliverRequest));
  }
  return out;
}

Actions ServerInviteMachine::on_tu_response(ResponseClass response) {
  assert(state_ != State::kIdle);
  Actions out;
  if (state_ == State::kAccepted) {
    if (response == ResponseClass::kSuccess) out.push_back(Action::of(ActionKind::kSendResponse));
    return out;
  }
  if (state_ != State::kProceeding) return out;
  out.push_back(Action::of(ActionKind::kSendResponse));
  switch (response) {
    case ResponseClass::kProvisional:
      sent_response_ = true;
      break;
    case ResponseClass::kSuccess:
      if (success_ == SuccessHandling::kTerminate) {
        terminate(out);
      } else {
        state_ = State::kAccepted;
        armed_.arm(out, TimerName::kL, timers_.timer_l());
      }
      break;
    case ResponseClass::kFinal:
      state_ = State::kCompleted;
      if (!reliable()) {
        timer_g_ = timers_.timer_g_initial();
        armed_.arm(out, TimerName::kG, timer_g_);
      }
      armed_.arm(out, TimerName::kH, timers_.timer_h());
      break;
  }
  return out;
}

Actions ServerInviteMachine::on_timer(TimerName timer) {
  assert(state_ != State::kIdle);
  Actions out;
  if (!armed_.fired(timer)) return out;
  switch (timer) {
    case TimerName::kG:
      // Armed only in Completed; the ACK or Timer H cancels it.
      out.push_back(Action::of(ActionKind::kResendResponse));
      timer_g_ = timers_.next_timer_g(timer_g_);
      armed_.arm(out, TimerName::kG, timer_g_);
      break;
    case TimerName::kH:
      out.push_back(Action::of(ActionKind::kReportTimeout));
      terminate(out);
      break;
    case TimerName::kI:
    case TimerName::kL:
      terminate(out);
      break;
    default:
      assert(false && "timer never armed by this machine");
      break;
  }
  return out;
}

Actions ServerInviteMachine::on_transport_error() {
  assert(state_ != State::kIdle);
  Actions out;
  switch (state_) {
    case State::kProceeding:
    case State::kCompleted:
      out.push_back(Action::of(ActionKind::kReportTransportError));
      terminate(out);
      break;
    case State::kAccepted:
      out.push_back(Action::of(ActionKind::kReportTransportError));
      break;
    case State::kIdle:
    case State::kConfirmed:
    case State::kTerminated:
      break;
  }
  return out;
}

void ServerInviteMachine::terminate(Actions& out) {
  state_ = State::kTerminated;
  armed_.terminate(out);
}

std::string_view to_string(ServerInviteMachine::State state) {
  using State = ServerInviteMachine::State;
  switch (state) {
    case State::kIdle: return "Idle";
    case State::kProceeding: return "Proceeding";
    case State::kCompleted: return "Completed";
    case State::kConfirmed: return "Confirmed";
    case State::kAccepted: return "Accepted";
    case State::kTerminated: return "Terminated";
  }
  return "?";
}

}  // namespace herald::sip::txn
