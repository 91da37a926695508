#pragma once

#include <boost/asio/ip/address.hpp>
#include <boost/system/error_code.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sip/transport/stream_framer.h"

// The boundary between the transport and the layer above it: the types that describe where bytes
// come from and go to, and the callbacks the transport makes upward. Everything here is about
// complete SIP message byte strings; nothing is parsed.
namespace herald::sip::transport {

// The transport kinds this build has. Code above the transport asks a kind's properties
// (kind_of) and never switches on the kind, so TLS, WS and WSS (RFC 7118) go in by adding a
// value here and a row to the table in transport_kind.cpp. Values are not persisted anywhere.
enum class Protocol : std::uint8_t { kUdp, kTcp };

// What a transport kind is, as SIP sees it.
struct TransportKind {
  Protocol protocol = Protocol::kUdp;
  std::string_view via;    // its Via transport token (RFC 3261 §20.42): "UDP", "TCP", "TLS", "WS"
  std::string_view param;  // its URI transport parameter, also the listen prefix: "udp", "tcp"
  bool reliable = false;   // delivery is the transport's: no retransmission (RFC 3261 §17)
  bool stream = false;     // a byte stream of messages framed by Content-Length (§18.3)
  bool secure = false;     // TLS underneath: the only kind a sips: URI may use (RFC 5630)
  bool message_framed = false;  // one message per datagram or frame
  bool connection = false;      // has connections a later request can reuse (a flow)
};

// The row of `protocol` in the table of kinds.
const TransportKind& kind_of(Protocol protocol) noexcept;
// Every kind this build has, in table order (UDP first: the default of a sip: URI).
const std::vector<TransportKind>& transport_kinds();
// The kind whose Via token, or URI parameter, is `text` (case-insensitive); nullopt if none.
std::optional<Protocol> protocol_of_via(std::string_view text) noexcept;
std::optional<Protocol> protocol_of_param(std::string_view text) noexcept;
// ";transport=tcp" for a kind a sip: URI must name, "" for UDP (the default, RFC 3261 §19.1.2).
std::string uri_transport_param(Protocol protocol);

// The Via token ("UDP", "TCP").
inline std::string_view to_string(Protocol protocol) noexcept { return kind_of(protocol).via; }

// Identifies one stream connection. Unique within the process and never reused, so a stale id
// simply finds nothing.
enum class ConnectionId : std::uint64_t {};

// Where a message (or a connection event) came from.
struct Source {
  Protocol protocol = Protocol::kUdp;
  boost::asio::ip::address remote_address;
  std::uint16_t remote_port = 0;
  // The listening socket's address for UDP (the wildcard address if bound to one); the
  // connection's own local address for TCP.
  boost::asio::ip::address local_address;
  std::uint16_t local_port = 0;
  std::optional<ConnectionId> connection;  // none for UDP
};

// Where to send. For a stream protocol with `connection` set, the bytes go on that connection if
// it is still open; otherwise (or without `connection`) the transport reuses an open connection to
// address:port or opens one (RFC 3261 §18.2.2 for responses, §18 for connection reuse).
struct Destination {
  Protocol protocol = Protocol::kUdp;
  boost::asio::ip::address address;
  std::uint16_t port = 0;
  std::optional<ConnectionId> connection;

  // The destination of a reply to a message that came from `source` (same protocol, same remote
  // address and port, same connection). rport/received handling is the caller's job.
  static Destination reply_to(const Source& source) {
    return {source.protocol, source.remote_address, source.remote_port, source.connection};
  }
};

// Called once per send, on the io_context thread, never from inside the send() call itself.
// Success means the bytes were handed to the kernel; failures carry the OS, Asio or
// TransportError code (e.g. message_size / EMSGSIZE, connection_refused, timed_out).
using SendCompletion = std::function<void(const boost::system::error_code&)>;

// Details of a stream that could not be framed. `header_block` points into the connection's
// receive buffer and is valid only during the on_stream_error() call.
struct StreamError {
  FrameError error = FrameError::kNone;
  std::string_view header_block;  // complete, or the first max_header_bytes bytes if too large
  bool header_complete = false;
};

// Implemented by the layer above. All calls are made on the thread running the transport's
// io_context. Callbacks may call back into the transport (send, close). The user must outlive
// the transport, or close it first: no callback is made after close() returns.
class TransportUser {
 public:
  virtual ~TransportUser() = default;

  // One complete SIP message (a UDP datagram, or a framed message from a stream).
  virtual void on_message(std::string bytes, const Source& source) = 0;

  // A stream peer sent bytes that cannot be framed. The connection stops reading; bytes sent to
  // `source.connection` during this call (e.g. a 400 or 413 reply) are written, then the
  // connection is closed.
  virtual void on_stream_error(const StreamError& error, const Source& source) {
    static_cast<void>(error);
    static_cast<void>(source);
  }

  // A connection ended (peer close, error, idle timeout, failed connect, framing error). Called
  // exactly once per ConnectionId that the transport created, after which the id is dead.
  virtual void on_connection_closed(const Source& connection,
                                    const boost::system::error_code& why) {
    static_cast<void>(connection);
    static_cast<void>(why);
  }
};

}  // namespace herald::sip::transport
