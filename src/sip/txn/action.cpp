#include "sip/txn/action.h"

namespace herald::sip::txn {

std::string_view to_string(TimerName timer) {
  switch (timer) {
    case TimerName::kA: return "A";
    case TimerName::kB: return "B";
    case TimerName::kD: return "D";
    case TimerName::kE: return "E";
    case TimerName::kF: return "F";
    case TimerName::kG: return "G";
    case TimerName::kH: return "H";
    case TimerName::kI: return "I";
    case TimerName::kJ: return "J";
    case TimerName::kK: return "K";
    case TimerName::kL: return "L";
    case TimerName::kM: return "M";
  }
  return "?";
}

std::string_view to_string(ActionKind kind) {
  switch (kind) {
    case ActionKind::kSendRequest: return "send-request";
    case ActionKind::kSendAck: return "send-ack";
    case ActionKind::kSendTrying: return "send-trying";
    case ActionKind::kSendResponse: return "send-response";
    case ActionKind::kResendResponse: return "resend-response";
    case ActionKind::kDeliverRequest: return "deliver-request";
    case ActionKind::kDeliverResponse: return "deliver-response";
    case ActionKind::kReportTimeout: return "report-timeout";
    case ActionKind::kReportTransportError: return "report-transport-error";
    case ActionKind::kArmTimer: return "arm-timer";
    case ActionKind::kCancelTimer: return "cancel-timer";
    case ActionKind::kTerminated: return "terminated";
  }
  return "?";
}

}  // namespace herald::sip::txn
