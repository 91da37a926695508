#include "services/events/notify_request.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <string_view>

#include "sip/msg/dialog_request.h"

namespace herald::services::events {

sip::Message notify_request(const Subscription& s, const NotifyParts& parts) {
  sip::DialogView dialog;
  dialog.call_id = s.call_id;
  dialog.local_uri = s.local_uri;
  dialog.local_tag = s.local_tag;
  dialog.remote_uri = s.remote_uri;
  dialog.remote_tag = s.remote_tag;
  dialog.remote_target = s.remote_target;
  dialog.route_set = &s.route_set;
  sip::Message m = sip::dialog_request("NOTIFY", dialog, parts.cseq);
  m.prepend(sip::HeaderId::kVia, parts.via);
  m.append(sip::HeaderId::kContact, parts.contact);
  std::string value(s.package);
  if (!s.event_id.empty()) value.append(";id=").append(s.event_id);
  m.append(sip::HeaderId::kEvent, value);
  if (parts.state == State::kTerminated) {
    value.assign("terminated;reason=").append(to_string(parts.reason.value_or(Reason::kTimeout)));
  } else {
    char digits[24];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, std::max<std::int64_t>(parts.expires_in, 0));
    value.assign(to_string(parts.state)).append(";expires=").append(digits, end);
  }
  m.append(sip::HeaderId::kSubscriptionState, value);
  if (const Body* body = parts.body) {
    m.append(sip::HeaderId::kContentType,
             body->content_type.empty() ? std::string_view(s.content_type) : std::string_view(body->content_type));
  }
  if (parts.body != nullptr && !parts.body->text.empty()) {
    m.set_body({}, parts.body->text);
  } else {
    m.append(sip::HeaderId::kContentLength, "0");
  }
  return m;
}

}  // namespace herald::services::events
