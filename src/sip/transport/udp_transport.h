#pragma once

#include <sys/socket.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "sip/transport/transport_user.h"

namespace herald::sip::transport {

// One UDP socket of one shard, bound alone to its address and port (a second socket binding them
// gets EADDRINUSE). Each datagram is delivered as one message; datagrams holding
// only CR/LF (keep-alives) are dropped, and CRLFs before a start-line are stripped.
//
// System calls are made per batch, not per datagram: one recvmmsg(2) reads up to kReceiveBatch
// datagrams, and the datagrams sent while the loop runs its handlers leave together in one
// sendmmsg(2), from a handler posted by the first of them. (On a virtual machine a system call
// can cost microseconds: REGISTERs at 16,000/s took the loop 2.1 system calls each with a
// recvfrom and a sendto per datagram, 0.3 batched, and 27 instead of 31 µs of CPU.)
//
// Threading: every call, and every callback to the user, happens on the io_context's thread.
// Lifetime: held by shared_ptr (pending receives and sends keep it alive); the TransportUser must
// outlive it or close() must be called first.
class UdpTransport : public std::enable_shared_from_this<UdpTransport> {
 public:
  static constexpr std::size_t kMaxDatagram = 65535;
  // Datagrams read per wake-up of the reactor at most (one recvmmsg).
  static constexpr std::size_t kReceiveBatch = 32;
  // Datagrams given to one sendmmsg at most.
  static constexpr std::size_t kSendBatch = 64;
  // SO_RCVBUF asked for (bytes).
  static constexpr int kReceiveBuffer = 8 << 20;

  static std::shared_ptr<UdpTransport> create(boost::asio::io_context& io, TransportUser& user);

  UdpTransport(const UdpTransport&) = delete;
  UdpTransport& operator=(const UdpTransport&) = delete;
  ~UdpTransport();

  // Opens and binds the socket (port 0 picks a free port) and starts receiving. IPv6 sockets are
  // v6-only so that an IPv4 socket can share the port.
  // `share_port`: SO_REUSEPORT, for the shards of one process (see TransportsConfig).
  boost::system::error_code open(const boost::asio::ip::udp::endpoint& local, bool share_port = false);

  // Queues one datagram; it leaves with the others queued before the loop's next turn. `done`
  // (may be empty) gets the outcome, never from inside send(): e.g. message_size for a datagram
  // the kernel refuses, or TransportError::kClosed after close().
  void send(const boost::asio::ip::udp::endpoint& to, std::string bytes, SendCompletion done);

  // The bound endpoint (with the real port when opened on port 0); unspecified if not open.
  boost::asio::ip::udp::endpoint local_endpoint() const { return local_; }
  bool is_open() const { return socket_.is_open(); }

  // Sends what is queued (as far as the socket takes it without waiting), stops receiving and
  // closes the socket; no user callback is made afterwards. Idempotent.
  void close();

 private:
  // A datagram waiting for the next sendmmsg.
  struct Outgoing {
    boost::asio::ip::udp::endpoint to;
    std::string bytes;
    SendCompletion done;
  };
  // What one recvmmsg fills: kReceiveBatch datagrams of up to kMaxDatagram bytes each, with
  // their senders. The data is not zeroed: only the pages datagrams are written to are touched.
  struct ReceiveBatch {
    std::array<mmsghdr, kReceiveBatch> headers{};
    std::array<iovec, kReceiveBatch> buffers{};
    std::array<sockaddr_storage, kReceiveBatch> senders{};
    std::unique_ptr<char[]> data;
  };

  UdpTransport(boost::asio::io_context& io, TransportUser& user);

  // Waits until the socket is readable, then reads.
  void receive();
  // One recvmmsg and its datagrams to the user; then waits again, or when the batch was full
  // (more may be queued) comes back from a posted handler, so that timers and other sockets
  // get their turn.
  void read_batch();
  void on_datagram(const char* data, std::size_t size, const sockaddr_storage& sender,
                   socklen_t sender_size);
  // Sends what is queued, kSendBatch datagrams a system call, and calls their completions.
  // When the socket's buffer is full, waits until it is writable and goes on; when `closing`,
  // posts the completions instead, and what the socket does not take at once is not sent.
  void flush(bool closing);
  void complete(SendCompletion& done, const boost::system::error_code& ec, bool post);

  boost::asio::io_context& io_;
  TransportUser* user_;  // null after close()
  boost::asio::ip::udp::socket socket_;
  boost::asio::ip::udp::endpoint local_;
  std::unique_ptr<ReceiveBatch> received_;
  std::vector<Outgoing> outbox_;   // in the order sent
  bool flush_posted_ = false;      // a flush handler is queued
  bool waiting_writable_ = false;  // the socket's buffer was full: a flush waits for room
};

}  // namespace herald::sip::transport
