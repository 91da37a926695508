#pragma once

// The NOTIFY request of a subscription (RFC 6665 §4.2.1.2, §8.2), written as text in one
// buffer: the hot path of a fan-out builds one per watcher. Pure: no I/O, no state.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "services/events/notifier.h"

namespace herald::services::events {

// What one NOTIFY carries beyond the subscription's dialog.
struct NotifyParts {
  std::uint32_t cseq = 0;
  State state = State::kActive;
  std::optional<Reason> reason;  // with state kTerminated
  std::int64_t expires_in = 0;   // seconds left, for pending and active
  std::string_view via_transport;  // "UDP", "TCP"
  std::string_view via_sent_by;    // Herald's host:port for that transport
  std::string_view branch;         // a fresh RFC 3261 branch
  std::string_view contact;        // Herald's Contact value, "<sip:192.0.2.1:5060>"
  const Body* body = nullptr;      // null: no body
};

// The NOTIFY for `s`, in its dialog (RFC 3261 §12.2.1.1): Request-URI the remote target and
// Route the route set, or, when the first route is a strict router (no ;lr), that route as
// the Request-URI and the remote target last in Route; From with Herald's tag, To with the
// subscriber's, the Call-ID, CSeq, Max-Forwards 70, Contact, Event (with id),
// Subscription-State ("active;expires=N", "pending;expires=N", "terminated;reason=R"), and
// the body (its type `s.content_type` when the body names none) with Content-Length.
std::string notify_text(const Subscription& s, const NotifyParts& parts);

}  // namespace herald::services::events
