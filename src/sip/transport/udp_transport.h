#pragma once

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>
#include <memory>
#include <string>

#include "sip/transport/transport_user.h"

namespace herald::sip::transport {

// One UDP socket of one shard, bound with SO_REUSEADDR + SO_REUSEPORT so that every shard can
// bind the same address and port. Each datagram is delivered as one message; datagrams holding
// only CR/LF (keep-alives) are dropped, and CRLFs before a start-line are stripped.
//
// Threading: every call, and every callback to the user, happens on the io_context's thread.
// Lifetime: held by shared_ptr (pending receives and sends keep it alive); the TransportUser must
// outlive it or close() must be called first.
class UdpTransport : public std::enable_shared_from_this<UdpTransport> {
 public:
  static constexpr std::size_t kMaxDatagram = 65535;
  // Datagrams handled per wake-up of the reactor at most.
  static constexpr std::size_t kReceiveBatch = 32;
  // SO_RCVBUF asked for (bytes).
  static constexpr int kReceiveBuffer = 8 << 20;

  static std::shared_ptr<UdpTransport> create(boost::asio::io_context& io, TransportUser& user);

  UdpTransport(const UdpTransport&) = delete;
  UdpTransport& operator=(const UdpTransport&) = delete;
  ~UdpTransport();

  // Opens and binds the socket (port 0 picks a free port) and starts receiving. IPv6 sockets are
  // v6-only so that an IPv4 socket can share the port.
  boost::system::error_code open(const boost::asio::ip::udp::endpoint& local);

  // Sends one datagram. `done` (may be empty) gets the outcome, e.g. message_size for a datagram
  // the kernel refuses, or TransportError::kClosed after close().
  void send(const boost::asio::ip::udp::endpoint& to, std::string bytes, SendCompletion done);

  // The bound endpoint (with the real port when opened on port 0); unspecified if not open.
  boost::asio::ip::udp::endpoint local_endpoint() const { return local_; }
  bool is_open() const { return socket_.is_open(); }

  // Stops receiving and closes the socket; no user callback is made afterwards. Idempotent.
  void close();

 private:
  UdpTransport(boost::asio::io_context& io, TransportUser& user);

  void receive();
  void drain();
  void on_datagram(std::size_t size);

  boost::asio::io_context& io_;
  TransportUser* user_;  // null after close()
  boost::asio::ip::udp::socket socket_;
  boost::asio::ip::udp::endpoint local_;
  boost::asio::ip::udp::endpoint sender_;                   // written by the pending receive
  std::unique_ptr<std::array<char, kMaxDatagram>> buffer_;  // the pending receive's buffer
  std::size_t queued_sends_ = 0;                            // sends waiting in the reactor
};

}  // namespace herald::sip::transport
