#include "sip/msg/dialog_request.h"

#include <charconv>

namespace herald::sip {
namespace {

// "<uri>" or "<uri>;tag=t".
void append_name_addr(std::string& out, std::string_view uri, std::string_view tag) {
  out.append("<").append(uri).append(">");
  if (!tag.empty()) out.append(";tag=").append(tag);
}

}  // namespace

Message dialog_request(std::string_view method, const DialogView& dialog, std::uint32_t cseq) {
  static const std::vector<std::string> no_routes;
  const std::vector<std::string>& routes = dialog.route_set != nullptr ? *dialog.route_set : no_routes;
  std::string_view request_uri = dialog.remote_target;
  std::size_t first_route = 0;
  bool strict = false;
  if (!routes.empty()) {
    auto top = parse_uri(routes.front());
    if (top.ok() && !top->has_param("lr")) {  // §12.2.1.1: a strict router
      strict = true;
      request_uri = routes.front();
      first_route = 1;
    }
  }
  Message m = Message::request(method, request_uri);
  std::string value;
  for (std::size_t i = first_route; i < routes.size(); ++i) {
    value.assign("<").append(routes[i]).append(">");
    m.append(HeaderId::kRoute, value);
  }
  if (strict) m.append(HeaderId::kRoute, value.assign("<").append(dialog.remote_target).append(">"));
  m.append(HeaderId::kMaxForwards, "70");
  value.clear();
  append_name_addr(value, dialog.local_uri, dialog.local_tag);
  m.append(HeaderId::kFrom, value);
  value.clear();
  append_name_addr(value, dialog.remote_uri, dialog.remote_tag);
  m.append(HeaderId::kTo, value);
  m.append(HeaderId::kCallId, dialog.call_id);
  char digits[12];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, cseq);
  value.assign(digits, end).append(" ").append(method);
  m.append(HeaderId::kCSeq, value);
  return m;
}

}  // namespace herald::sip
