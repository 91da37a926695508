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
};

using SendDone = std::function<void(const boost::system::error_code&)>;

// SIP messages over one shard's Transports: parses what arrives (sip/msg), stamps the top Via
// of requests with received / rport (RFC 3261 §18.2.1, RFC 3581 §4), answers requests that are
// malformed (400 with the fault as reason phrase, 505 for another SIP version) without
// bothering the layers above, drops what cannot be answered, and sends responses where
// RFC 3261 §18.2.2 and RFC 3581 §4 say.
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

  // Sends `response` to the request that came from `request_source`: on the same connection
  // for streams (reconnecting to the address if it closed); for UDP to the received address
  // and the rport / sent-by port of the response's top Via (maddr is not honoured).
  void send_response(const Message& response, const Source& request_source, SendDone done = {});
  void send_request(const Message& request, const Destination& to, SendDone done = {});

 private:
  void on_message(std::string bytes, const Source& source) override;
  void on_stream_error(const StreamError& error, const Source& source) override;
  void reject(const Message& request, const Source& source, int code, std::string_view reason);

  Transports transports_;
  MessageHandler& handler_;
  MessageCounters counters_;
};

// The value the top Via of a request received from `source` should have (RFC 3261 §18.2.1:
// received when the sent-by host is not the source address; RFC 3581: rport filled in and
// received added whenever rport was requested). Returns an empty string when no change is due.
std::string stamped_via(const ViaValue& via, std::string_view via_text, const Source& source);

}  // namespace herald::sip::transport
