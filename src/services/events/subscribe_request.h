#pragma once

// What the notifier reads from a SUBSCRIBE beyond its typed headers. Pure: no I/O, no state.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sip/msg/message.h"

namespace herald::services::events {

// Subscription::key: Call-ID, Herald's tag, the subscriber's tag, package and Event id,
// joined by spaces (none of them can hold one).
std::string subscription_key(std::string_view call_id, std::string_view local_tag, std::string_view remote_tag,
                             std::string_view package, std::string_view event_id);

struct BodyTypeChoice {
  std::optional<std::string> type;  // the chosen type; nullopt: none acceptable (406)
  std::string_view malformed;       // why the Accept header cannot be read (400); empty otherwise
};

// RFC 6665 §7.2, RFC 3261 §8.2.3 and §20.1: the first of `types` (the package's order) that
// the Accept header accepts: the most specific media range naming it has q > 0. The first of
// `types` when the request has no Accept header; nothing for an empty Accept header.
BodyTypeChoice choose_body_type(const sip::Message& request, const std::vector<std::string>& types);

}  // namespace herald::services::events
