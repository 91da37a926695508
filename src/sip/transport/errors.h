#pragma once

#include <boost/system/error_code.hpp>

// Error codes the transport reports through send completions and close events, in addition to
// the operating system's and Asio's own codes (connection refused, timed out, message too long…).
namespace herald::sip::transport {

enum class TransportError {
  kConnectionLimit = 1,  // the connection table is full; no new connection was opened
  kConnectionClosed,     // the connection closed before these bytes were written
  kNoSocketForFamily,    // no UDP socket of the destination's address family is open
  kClosed,               // the transport was closed (or never started)
  kStreamFraming,        // the peer sent bytes that cannot be framed as SIP (see StreamError)
  kSlowMessage,          // a message's first bytes came, its last did not in time (message_timeout)
  kNoValidMessage,       // an accepted connection sent no valid message in time (unconfirmed_timeout)
  kSourceLimit,          // the source holds as many connections as it may (max_connections_per_source)
};

const boost::system::error_category& transport_category() noexcept;

inline boost::system::error_code make_error_code(TransportError e) noexcept {
  return {static_cast<int>(e), transport_category()};
}

}  // namespace herald::sip::transport

template <>
struct boost::system::is_error_code_enum<herald::sip::transport::TransportError> : std::true_type {
};
