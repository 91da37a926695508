#pragma once

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <string_view>

#include "sip/msg/message.h"
#include "sip/transport/transport.h"

namespace herald::sip::transport {

// Implemented by the layer above (the transaction layer's glue). Called on the shard thread
// with messages that parsed and passed check_request() / response_usable().
class MessageHandler {
 public:
  virtual ~MessageHandler() = default;
  virtual void on_request(const Message& request, const Source& source) = 0;
  virtual void on_response(const Message& response, const Source& source) = 0;
};

// What happened to received bytes; read by /metrics later. Shard-local, no atomics needed.
struct MessageCounters {
  std::uint64_t requests = 0;
  std::uint64_t responses = 0;
  std::uint64_t rejected = 0;        // answered 400 / 505 / 513 by this layer
  std::uint64_t dropped = 0;         // unusable: no start line, unusable response, no Via
  std::uint64_t stream_errors = 0;   // TCP streams that could not be framed
  std::uint64_t send_errors = 0;
  std::uint64_t over_budget = 0;     // beyond their source's request budget (503 or dropped)
  std::uint64_t slow_connections = 0;  // TCP connections closed: a message did not arrive in time
  std::uint64_t unconfirmed_connections = 0;  // closed: no valid message in time
};

using SendDone = std::function<void(const boost::system::error_code&)>;

// SIP messages over one shard's Transports: holds each source to its request budget (every
// message counts; see RequestBudget: beyond it, a 503 with Retry-After once a second, the rest
// dropped unparsed), parses what arrives (sip/msg), stamps the top Via of requests with
// received / rport (RFC 3261 §18.2.1, RFC 3581 §4), answers requests that are malformed (400
// with the fault as reason phrase, 505 for another SIP version) without bothering the layers
// above, drops what cannot be answered, confirms a TCP connection once it carried a valid
// message, and sends responses where RFC 3261 §18.2.2 and RFC 3581 §4 say.
//
// Threading: everything on the io_context's thread. Lifetime: `handler` must outlive this.
class MessageTransport final : private TransportUser {
 public:
  MessageTransport(boost::asio::io_context& io, TransportsConfig config, MessageHandler& handler);
  MessageTransport(const MessageTransport&) = delete;
  MessageTransport& operator=(const MessageTransport&) = delete;
  ~MessageTransport() override;

  boost::system::error_code start() { return transports_.start(); }
  void close() { transports_.close(); }
  Transports& transports() { return transports_; }
  const Transports& transports() const { return transports_; }
  const MessageCounters& counters() const { return counters_; }
  const RequestBudget& budget() const { return budget_; }

  // Sends `response` to the request that came from `request_source`: on the same connection
  // for streams (reconnecting to the address if it closed); for UDP to the top Via's maddr
  // (a numeric one) and sent-by port, else to the received address and the rport / sent-by
  // port (RFC 3261 §18.2.2, RFC 3581 §4).
  void send_response(const Message& response, const Source& request_source, SendDone done = {});
  void send_request(const Message& request, const Destination& to, SendDone done = {});

 private:
  void on_message(std::string bytes, const Source& source) override;
  void on_stream_error(const StreamError& error, const Source& source) override;
  void on_connection_closed(const Source& connection, const boost::system::error_code& why) override;
  void reject(const Message& request, const Source& source, int code, std::string_view reason,
              std::optional<std::uint32_t> retry_after = std::nullopt);
  // Answers a request over its source's budget with 503 and Retry-After (nothing for others).
  void refuse_over_budget(std::string bytes, const Source& source);

  Transports transports_;
  MessageHandler& handler_;
  RequestBudget budget_;
  MessageCounters counters_;
};

// Where a response with top Via `via` to a request from `request_source` goes (RFC 3261
// §18.2.2, RFC 3581 §4): over a stream, back on its connection; over UDP, to a numeric maddr
// and the sent-by port (5060 when none), else to the received address (the source's when
// there is none) and the rport, sent-by port or 5060.
Destination response_destination(const ViaValue& via, const Source& request_source);

// The value the top Via of a request received from `source` should have (RFC 3261 §18.2.1:
// received when the sent-by host is not the source address; RFC 3581: rport filled in and
// received added whenever rport was requested). Returns an empty string when no change is due.
std::string stamped_via(const ViaValue& via, std::string_view via_text, const Source& source);

}  // namespace herald::sip::transport
