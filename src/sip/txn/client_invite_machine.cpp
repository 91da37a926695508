#include "sip/txn/client_invite_machine.h"

namespace herald::sip::txn {

Actions ClientInviteMachine::start() {
  assert(state_ == State::kIdle);
  Actions out;
  state_ = State::kCalling;
  out.push_back(Action::of(ActionKind::kSendRequest));
  if (!reliable()) {
    timer_a_ = timers_.timer_a_initial();
    armed_.arm(out, TimerName::kA, timer_a_);
  }
  armed_.arm(out, TimerName::kB, timers_.timer_b());
  return out;
}

Actions ClientInviteMachine::on_response(ResponseClass response) {
  assert(state_ != State::kIdle);
  Actions out;
  switch (state_) {
    case State::kCalling:
    case State::kProceeding:
      // Any response ends the Calling state's retransmissions and its timeout.
      armed_.cancel(out, TimerName::kA);
      armed_.cancel(out, TimerName::kB);
      switch (response) {
        case ResponseClass::kProvisional:
          state_ = State::kProceeding;
          out.push_back(Action::of(ActionKind::kDeliverResponse));
          break;
        case ResponseClass::kSuccess:
          out.push_back(Action::of(ActionKind::kDeliverResponse));
          if (success_ == SuccessHandling::kTerminate) {
            terminate(out);
          } else {
            state_ = State::kAccepted;
            armed_.arm(out, TimerName::kM, timers_.timer_m());
          }
          break;
        case ResponseClass::kFinal:
          out.push_back(Action::of(ActionKind::kSendAck));
          out.push_back(Action::of(ActionKind::kDeliverResponse));
          if (const Duration d = timers_.timer_d(reliable()); d > Duration::zero()) {
            state_ = State::kCompleted;
            armed_.arm(out, TimerName::kD, d);
          } else {
            terminate(out);
          }
          break;
      }
      break;
    case State::kCompleted:
      if (response == ResponseClass::kFinal) out.push_back(Action::of(ActionKind::kSendAck));
      break;
    case State::kAccepted:
      if (response == ResponseClass::kSuccess) {
        out.push_back(Action::of(ActionKind::kDeliverResponse));
      }
      break;
    case State::kIdle:
    case State::kTerminated:
      break;
  }
  return out;
}

Actions ClientInviteMachine::on_timer(TimerName timer) {
  assert(state_ != State::kIdle);
  Actions out;
  if (!armed_.fired(timer)) return out;
  switch (timer) {
    case TimerName::kA:
      // Armed only in Calling; leaving Calling cancels it.
      out.push_back(Action::of(ActionKind::kSendRequest));
      timer_a_ = TimerValues::next_timer_a(timer_a_);
      armed_.arm(out, TimerName::kA, timer_a_);
      break;
    case TimerName::kB:
      out.push_back(Action::of(ActionKind::kReportTimeout));
      terminate(out);
      break;
    case TimerName::kD:
    case TimerName::kM:
      terminate(out);
      break;
    default:
      assert(false && "timer never armed by this machine");
      break;
  }
  return out;
}

Actions ClientInviteMachine::on_transport_error() {
  assert(state_ != State::kIdle);
  Actions out;
  if (state_ == State::kAccepted || state_ == State::kTerminated) return out;
  out.push_back(Action::of(ActionKind::kReportTransportError));
  terminate(out);
  return out;
}

void ClientInviteMachine::terminate(Actions& out) {
  state_ = State::kTerminated;
  armed_.terminate(out);
}

std::string_view to_string(ClientInviteMachine::State state) {
  using State = ClientInviteMachine::State;
  switch (state) {
    case State::kIdle: return "Idle";
    case State::kCalling: return "Calling";
    case State::kProceeding: return "Proceeding";
    case State::kCompleted: return "Completed";
    case State::kAccepted: return "Accepted";
    case State::kTerminated: return "Terminated";
  }
  return "?";
}

}  // namespace herald::sip::txn
