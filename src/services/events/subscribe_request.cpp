#include "services/events/subscribe_request.h"

#include <algorithm>

#include "sip/msg/grammar.h"

namespace herald::services::events {
namespace {

// Whether an Accept range's q-value is above zero: "0", "0.0", "0.000" are not.
bool q_positive(const sip::MediaType& range) {
  auto q = range.params.find("q");
  if (!q) return true;
  return std::any_of(q->begin(), q->end(), [](char c) { return c >= '1' && c <= '9'; });
}

// 2 for type/subtype, 1 for type/*, 0 for */*.
int specificity(const sip::MediaType& range) {
  if (range.subtype != "*") return 2;
  return range.type != "*" ? 1 : 0;
}

}  // namespace

std::string subscription_key(std::string_view call_id, std::string_view local_tag, std::string_view remote_tag,
                             std::string_view package, std::string_view event_id) {
  std::string key;
  key.reserve(call_id.size() + local_tag.size() + remote_tag.size() + package.size() + event_id.size() + 4);
  key.append(call_id).append(1, ' ').append(local_tag).append(1, ' ').append(remote_tag);
  key.append(1, ' ').append(package).append(1, ' ').append(event_id);
  return key;
}

BodyTypeChoice choose_body_type(const sip::Message& request, const std::vector<std::string>& types) {
  BodyTypeChoice out;
  if (!request.has(sip::HeaderId::kAccept)) {
    if (!types.empty()) out.type = types.front();
    return out;
  }
  std::vector<sip::MediaType> ranges;
  for (const sip::HeaderField& field : request.headers()) {
    if (field.id != sip::HeaderId::kAccept) continue;
    sip::grammar::for_each_list_element(field.value, [&](std::string_view element) {
      if (element.empty()) return true;  // "Accept:" alone: nothing acceptable
      auto range = sip::parse_media_range(element);
      if (!range) {
        out.malformed = range.why();
        return false;
      }
      ranges.push_back(range.value());
      return true;
    });
    if (!out.malformed.empty()) return out;
  }
  // RFC 2616 §14.1 (which RFC 3261 §20.1 follows): the most specific range naming a type
  // gives its q-value ("text/plain;q=0, */*" refuses text/plain).
  for (const std::string& type : types) {
    const sip::MediaType* best = nullptr;
    for (const sip::MediaType& range : ranges) {
      if (range.matches(type) && (best == nullptr || specificity(range) > specificity(*best))) best = &range;
    }
    if (best != nullptr && q_positive(*best)) {
      out.type = type;
      break;
    }
  }
  return out;
}

}  // namespace herald::services::events
