#include "services/events/notify_request.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>

namespace herald::services::events {

std::string notify_text(const Subscription& s, const NotifyParts& parts) {
  std::string_view request_uri = s.remote_target;
  std::size_t first_route = 0;
  bool strict = false;
  if (!s.route_set.empty()) {
    auto top = sip::parse_uri(s.route_set.front());
    if (top.ok() && !top->has_param("lr")) {
      strict = true;
      request_uri = s.route_set.front();
      first_route = 1;
    }
  }
  std::size_t routes = 0;
  for (const std::string& route : s.route_set) routes += route.size() + 12;
  const Body* body = parts.body;
  std::string text;
  text.reserve(400 + routes + s.remote_target.size() * 2 + s.local_uri.size() + s.remote_uri.size() +
               s.call_id.size() + parts.contact.size() + (body ? body->text.size() + body->content_type.size() : 0));

  auto out = std::back_inserter(text);
  fmt::format_to(out, "NOTIFY {} SIP/2.0\r\nVia: SIP/2.0/{} {};branch={};rport\r\n", request_uri,
                 parts.via_transport, parts.via_sent_by, parts.branch);
  for (std::size_t i = first_route; i < s.route_set.size(); ++i) fmt::format_to(out, "Route: <{}>\r\n", s.route_set[i]);
  if (strict) fmt::format_to(out, "Route: <{}>\r\n", s.remote_target);
  fmt::format_to(out, "Max-Forwards: 70\r\nFrom: <{}>;tag={}\r\nTo: <{}>", s.local_uri, s.local_tag, s.remote_uri);
  if (!s.remote_tag.empty()) fmt::format_to(out, ";tag={}", s.remote_tag);
  fmt::format_to(out, "\r\nCall-ID: {}\r\nCSeq: {} NOTIFY\r\nContact: {}\r\nEvent: {}", s.call_id, parts.cseq,
                 parts.contact, s.package);
  if (!s.event_id.empty()) fmt::format_to(out, ";id={}", s.event_id);
  if (parts.state == State::kTerminated) {
    fmt::format_to(out, "\r\nSubscription-State: terminated;reason={}\r\n",
                   to_string(parts.reason.value_or(Reason::kTimeout)));
  } else {
    fmt::format_to(out, "\r\nSubscription-State: {};expires={}\r\n", to_string(parts.state),
                   std::max<std::int64_t>(parts.expires_in, 0));
  }
  if (body != nullptr) {
    fmt::format_to(out, "Content-Type: {}\r\nContent-Length: {}\r\n\r\n",
                   body->content_type.empty() ? s.content_type : body->content_type, body->text.size());
    text += body->text;
  } else {
    text += "Content-Length: 0\r\n\r\n";
  }
  return text;
}

}  // namespace herald::services::events
