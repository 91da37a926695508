#include "client/messaging.h"

#include <nlohmann/json.hpp>

#include "sip/msg/grammar.h"
#include "sip/msg/headers.h"

namespace herald::client {

void send_message(UserAgent& ua, std::string_view to, std::string_view content_type, std::string_view text,
                  Completion done) {
  Leg leg = ua.new_leg(to);
  sip::Message request = ua.new_request("MESSAGE", leg);
  request.set_body(content_type, text);
  ua.send(std::move(request), std::move(done));
}

Inbox::Inbox(UserAgent& ua, std::function<void(const IncomingMessage&)> on_message) : ua_(ua) {
  handler_ = ua_.add_handler([this, on_message = std::move(on_message)](sip::txn::ServerTransactionId id,
                                                                         const sip::Message& request) {
    if (request.method() != sip::Method::kMessage) return false;
    ua_.respond(id, request, 200, "OK");
    IncomingMessage m;
    if (auto from = request.get<sip::hdr::From>(); from.ok()) m.from = std::string(from->uri.text);
    if (auto to = request.get<sip::hdr::To>(); to.ok()) m.to = std::string(to->uri.text);
    if (const sip::HeaderField* type = request.find(sip::HeaderId::kContentType)) m.content_type = std::string(type->value);
    if (const sip::HeaderField* date = request.find(sip::HeaderId::kDate)) m.date = std::string(date->value);
    if (auto call_id = request.get<sip::hdr::CallId>(); call_id.ok()) m.call_id = std::string(*call_id);
    m.text = std::string(request.body());
    if (on_message) on_message(m);
    return true;
  });
}

Inbox::~Inbox() { ua_.remove_handler(handler_); }

std::string format_message_line(std::string_view time, const IncomingMessage& m) {
  std::string line = std::string(time) + " " + m.from + ": ";
  const bool text = m.content_type.empty() || sip::grammar::iequals(m.content_type.substr(0, 5), "text/");
  if (text) return line + m.text;
  return line + "[" + m.content_type + ", " + std::to_string(m.text.size()) + " bytes]";
}

std::string format_message_json(std::string_view time, const IncomingMessage& m) {
  nlohmann::json j;
  j["time"] = time;
  j["from"] = m.from;
  j["to"] = m.to;
  j["content_type"] = m.content_type;
  j["text"] = m.text;
  j["date"] = m.date.empty() ? nlohmann::json(nullptr) : nlohmann::json(m.date);
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace herald::client
