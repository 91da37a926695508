#include "sip/transport/message_transport.h"

#include <spdlog/spdlog.h>

#include <boost/asio/ip/address.hpp>

#include "sip/msg/validate.h"
#include "sip/transport/address_text.h"

namespace herald::sip::transport {

MessageTransport::MessageTransport(boost::asio::io_context& io, TransportsConfig config,
                                   MessageHandler& handler)
    : transports_(io, *this, config), handler_(handler), budget_(std::move(config.budget)) {}

MessageTransport::~MessageTransport() { transports_.close(); }

std::string stamped_via(const ViaValue& via, std::string_view via_text, const Source& source) {
  bool rport_requested = via.rport().has_value() && via.rport()->empty();
  boost::system::error_code ec;
  auto sent_by = boost::asio::ip::make_address(via.host, ec);
  bool host_matches = !ec && sent_by == source.remote_address;
  if (!rport_requested && host_matches) return {};
  // Rebuild the parameter list: drop a valueless rport (and any received), then append.
  std::string out(via_text.substr(0, via_text.size() - via.params.raw().size()));
  via.params.for_each([&](const Param& p) {
    bool valueless_rport = grammar::iequals(p.name, "rport") && !p.has_value;
    if (!valueless_rport && !grammar::iequals(p.name, "received")) {
      out.append(";").append(p.name);
      if (p.has_value) out.append("=").append(p.value);
    }
    return true;
  });
  out.append(";received=");
  append_address(out, source.remote_address);
  if (rport_requested) out.append(";rport=").append(std::to_string(source.remote_port));
  return out;
}

void MessageTransport::on_message(std::string bytes, const Source& source) {
  switch (budget_.admit(source.remote_address, std::chrono::steady_clock::now())) {
    case RequestBudget::Verdict::kAdmit:
      break;
    case RequestBudget::Verdict::kDrop:
      ++counters_.over_budget;
      return;
    case RequestBudget::Verdict::kRefuse:
      ++counters_.over_budget;
      refuse_over_budget(std::move(bytes), source);
      return;
  }
  auto parsed = parse_message(std::move(bytes));
  if (!parsed) {
    ++counters_.dropped;
    spdlog::debug("dropped message from {}:{}: {}", source.remote_address, source.remote_port,
                  parsed.why());
    return;
  }
  Message& message = parsed.value();
  if (message.is_response()) {
    if (!response_usable(message)) {
      ++counters_.dropped;
      spdlog::debug("dropped unusable response from {}:{}", source.remote_address, source.remote_port);
      return;
    }
    ++counters_.responses;
    if (source.connection) transports_.confirm(*source.connection);
    handler_.on_response(message, source);
    return;
  }
  // A request needs a top Via to be answered at all.
  const HeaderField* top = message.find(HeaderId::kVia);
  if (top == nullptr) {
    ++counters_.dropped;
    spdlog::debug("dropped request without Via from {}:{}", source.remote_address, source.remote_port);
    return;
  }
  auto via = message.get<hdr::Via>();
  if (via) {
    // The top line may hold several comma-joined values; stamp only the first.
    std::string_view first = top->value.substr(0, grammar::find_unquoted(top->value, ','));
    std::string stamped = stamped_via(*via, grammar::trim(first), source);
    if (!stamped.empty()) {
      message.pop_first_value(HeaderId::kVia);
      message.prepend(HeaderId::kVia, stamped);
    }
  }
  auto check = check_request(message);
  if (!check.ok()) {
    if (message.method() == Method::kAck) {
      ++counters_.dropped;  // an ACK is never answered (RFC 3261 §17.2.3)
      return;
    }
    reject(message, source, check.status_code, check.reason);
    return;
  }
  ++counters_.requests;
  if (source.connection) transports_.confirm(*source.connection);
  handler_.on_request(message, source);
}

void MessageTransport::refuse_over_budget(std::string bytes, const Source& source) {
  auto parsed = parse_message(std::move(bytes));
  if (!parsed || !parsed->is_request() || parsed->method() == Method::kAck || !parsed->get<hdr::Via>()) return;
  spdlog::warn("requests from {} beyond its budget: refused with 503 (and dropped until its rate falls)",
               source.remote_address);
  reject(*parsed, source, 503, "Too many requests from this address", budget_.retry_after());
}

void MessageTransport::on_connection_closed(const Source& connection, const boost::system::error_code& why) {
  if (why == TransportError::kSlowMessage) {
    ++counters_.slow_connections;
  } else if (why == TransportError::kNoValidMessage) {
    ++counters_.unconfirmed_connections;
  } else if (why != TransportError::kConnectionLimit) {
    return;
  }
  spdlog::info("TCP connection from {}:{} closed: {}", connection.remote_address, connection.remote_port,
               why.message());
}

void MessageTransport::reject(const Message& request, const Source& source, int code, std::string_view reason,
                              std::optional<std::uint32_t> retry_after) {
  ++counters_.rejected;
  auto call_id = request.find(HeaderId::kCallId);
  spdlog::info("call-id={} {} from {}:{} rejected: {} {}", call_id ? call_id->value : "-", request.method_name(),
               source.remote_address, source.remote_port, code, reason);
  Message response = make_response(request, code, reason);
  if (retry_after) {
    response.remove(HeaderId::kContentLength);
    response.append(HeaderId::kRetryAfter, std::to_string(*retry_after));
    response.append(HeaderId::kContentLength, "0");
  }
  send_response(response, source);
}

void MessageTransport::on_stream_error(const StreamError& error, const Source& source) {
  ++counters_.stream_errors;
  spdlog::info("stream from {}:{} cannot be framed: {}", source.remote_address, source.remote_port,
               to_string(error.error));
  if (!error.header_complete) return;  // nothing to address an answer with; the stream closes
  auto parsed = parse_message(std::string(error.header_block));
  if (!parsed || !parsed->is_request() || parsed->method() == Method::kAck || !parsed->get<hdr::Via>()) return;
  int code = 400;
  std::string_view reason = "Malformed Content-Length header";
  switch (error.error) {
    case FrameError::kBodyTooLarge: code = 513; reason = "Message Too Large"; break;
    case FrameError::kHeaderTooLarge: code = 513; reason = "Message Too Large"; break;
    case FrameError::kMissingContentLength: reason = "Missing Content-Length header on a stream"; break;
    case FrameError::kConflictingContentLength: reason = "Conflicting Content-Length headers"; break;
    default: break;
  }
  ++counters_.rejected;
  send_response(make_response(*parsed, code, reason), source);
}

Destination response_destination(const ViaValue& via, const Source& request_source) {
  Destination to = Destination::reply_to(request_source);
  if (request_source.protocol != Protocol::kUdp) return to;
  boost::system::error_code ec;
  if (auto maddr = via.params.find("maddr")) {
    auto address = boost::asio::ip::make_address(std::string(*maddr), ec);
    if (!ec) {  // a name would need resolving: the received address stands in for it
      to.address = address;
      to.port = via.port != 0 ? via.port : 5060;
      return to;
    }
  }
  if (auto received = via.received()) {
    auto address = boost::asio::ip::make_address(*received, ec);
    if (!ec) to.address = address;
  }
  auto rport = via.rport();
  if (rport && !rport->empty()) {
    to.port = static_cast<std::uint16_t>(grammar::parse_uint(*rport, 65535).value_or(to.port));
  } else {
    to.port = via.port != 0 ? via.port : 5060;
  }
  return to;
}

void MessageTransport::send_response(const Message& response, const Source& request_source, SendDone done) {
  auto via = response.get<hdr::Via>();
  const Destination to = via ? response_destination(*via, request_source) : Destination::reply_to(request_source);
  auto counters = &counters_;
  transports_.send(to, serialize(response), [counters, done = std::move(done)](const boost::system::error_code& ec) {
    if (ec) ++counters->send_errors;
    if (done) done(ec);
  });
}

void MessageTransport::send_request(const Message& request, const Destination& to, SendDone done) {
  auto counters = &counters_;
  transports_.send(to, serialize(request), [counters, done = std::move(done)](const boost::system::error_code& ec) {
    if (ec) ++counters->send_errors;
    if (done) done(ec);
  });
}

}  // namespace herald::sip::transport
