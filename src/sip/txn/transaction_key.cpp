#include "sip/txn/transaction_key.h"

#include <string_view>

#include "sip/msg/grammar.h"

namespace herald::sip::txn {
namespace {

constexpr std::string_view kCookie = "z9hG4bK";

struct TopVia {
  std::string_view text;  // the whole first via-parm, as written
  ViaValue value;
};

std::optional<TopVia> top_via(const Message& message) {
  const HeaderField* field = message.find(HeaderId::kVia);
  if (field == nullptr) return std::nullopt;
  std::string_view text;
  grammar::for_each_list_element(field->value, [&](std::string_view element) {
    text = element;
    return false;
  });
  if (text.empty()) return std::nullopt;
  auto parsed = parse_via(text);
  if (!parsed) return std::nullopt;
  return TopVia{text, parsed.value()};
}

bool rfc3261_branch(const ViaValue& via) {
  auto branch = via.branch();
  return branch && branch->size() > kCookie.size() && branch->substr(0, kCookie.size()) == kCookie;
}

// Appends a field and a separator that cannot occur inside SIP tokens or header text.
void add(std::string& key, std::string_view field) {
  key.append(field);
  key.push_back('\x1f');
}

std::string_view method_for_matching(const Message& request) {
  return request.method() == Method::kAck ? std::string_view("INVITE") : request.method_name();
}

std::string rfc3261_key(const ViaValue& via, std::string_view method) {
  std::string key = "3\x1f";
  add(key, *via.branch());
  for (char c : via.host) key.push_back(grammar::to_lower(c));
  key.push_back(':');
  add(key, std::to_string(via.port));
  add(key, method);
  return key;
}

// The RFC 2543 key; `with_to_tag` false gives the ACK/CANCEL form.
std::optional<std::string> rfc2543_key(const Message& request, const TopVia& via,
                                       std::string_view method, bool with_to_tag) {
  auto from = request.get<hdr::From>();
  auto to = request.get<hdr::To>();
  auto call_id = request.get<hdr::CallId>();
  auto cseq = request.get<hdr::CSeq>();
  if (!from || !to || !call_id || !cseq) return std::nullopt;
  std::string key = with_to_tag ? "2\x1f" : "2a\x1f";
  add(key, request.request_uri_text());
  if (with_to_tag) add(key, to->tag().value_or(""));
  add(key, from->tag().value_or(""));
  add(key, *call_id);
  add(key, std::to_string(cseq->number));
  add(key, via.text);
  add(key, method);
  return key;
}

}  // namespace

std::optional<std::string> server_key(const Message& request) {
  if (!request.is_request()) return std::nullopt;
  auto via = top_via(request);
  if (!via) return std::nullopt;
  if (rfc3261_branch(via->value)) return rfc3261_key(via->value, method_for_matching(request));
  if (request.method() == Method::kAck) return rfc2543_key(request, *via, "INVITE", false);
  return rfc2543_key(request, *via, request.method_name(), true);
}

std::optional<std::string> ack_key_2543(const Message& request) {
  auto via = top_via(request);
  if (!via || rfc3261_branch(via->value)) return std::nullopt;
  return rfc2543_key(request, *via, "INVITE", false);
}

std::optional<std::string> invite_key_for(const Message& request) {
  auto via = top_via(request);
  if (!via) return std::nullopt;
  if (rfc3261_branch(via->value)) return rfc3261_key(via->value, "INVITE");
  return rfc2543_key(request, *via, "INVITE", false);
}

std::optional<std::string> client_key(const Message& message) {
  auto via = top_via(message);
  if (!via) return std::nullopt;
  auto branch = via->value.branch();
  auto cseq = message.get<hdr::CSeq>();
  if (!branch || branch->empty() || !cseq) return std::nullopt;
  std::string key = "c\x1f";
  add(key, *branch);
  add(key, cseq->method_name);
  return key;
}

}  // namespace herald::sip::txn
