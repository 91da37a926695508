#pragma once

// The NOTIFY request of a subscription (RFC 6665 §4.2.1.2, §8.2), built as every request in a
// dialog is (sip::dialog_request): the hot path of a fan-out builds one per watcher. Pure: no
// I/O, no state.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "services/events/notifier.h"
#include "sip/msg/message.h"

namespace herald::services::events {

// What one NOTIFY carries beyond the subscription's dialog.
struct NotifyParts {
  std::uint32_t cseq = 0;
  State state = State::kActive;
  std::optional<Reason> reason;  // with state kTerminated
  std::int64_t expires_in = 0;   // seconds left, for pending and active
  std::string_view via;            // the top Via (sip::Network::via): transport, sent-by, branch
  std::string_view contact;        // Herald's Contact value, "<sip:192.0.2.1:5060>"
  const Body* body = nullptr;      // null: no body
};

// The NOTIFY for `s`, in its dialog (sip::dialog_request: Request-URI, Route, Max-Forwards,
// From with Herald's tag, To with the subscriber's, Call-ID, CSeq) under the top Via, then
// Contact, Event (with id), Subscription-State ("active;expires=N", "pending;expires=N",
// "terminated;reason=R"), and the body (its type `s.content_type` when the body names none)
// with Content-Length.
sip::Message notify_request(const Subscription& s, const NotifyParts& parts);

}  // namespace herald::services::events
