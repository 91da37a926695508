#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/system/error_code.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sip/transport/errors.h"
#include "sip/transport/source_limits.h"
#include "sip/transport/tcp_transport.h"
#include "sip/transport/transport_user.h"
#include "sip/transport/udp_transport.h"

// The transport layer's public face: what it offers the layer above. The boundary types and the
// upward callbacks (Protocol, Source, Destination, TransportUser, SendCompletion) are in
// transport_user.h, included here.
namespace herald::sip::transport {

// One socket to listen on. Port 0 picks a free port (see Transports::listening()).
struct ListenPoint {
  Protocol protocol = Protocol::kUdp;
  boost::asio::ip::address address;
  std::uint16_t port = 0;
};

// How the UDP listeners of one process's shards share their addresses and ports: each shard
// has its own socket (SO_REUSEPORT, the kernel spreading datagrams by source), and no other
// process can join. kFirst checks that nothing holds the address and port (a plain bind that
// must succeed, port 0 picking the port) before it binds with SO_REUSEPORT; kJoin binds the
// ports kFirst bound. kAlone: no sharing (one shard, or a client).
enum class UdpSharing : std::uint8_t { kAlone, kFirst, kJoin };

struct TransportsConfig {
  std::vector<ListenPoint> listen;
  TcpOptions tcp;
  RequestBudgetConfig budget;  // applied by MessageTransport to what arrives
  UdpSharing udp_sharing = UdpSharing::kAlone;
};

// One shard's transports: its UDP sockets, its TCP listeners and its TCP connection table, all on
// the io_context it is given. Run one Transports per io_context (one io_context per thread); every
// call, user callback and send completion happens on that io_context's thread. No other socket,
// of this process or another, can listen on an address and port one of its listeners holds.
//
// Lifetime: `io` and `user` must outlive this object; no user callback is made after close() or
// destruction. Send completions still pending then run later with an error code.
class Transports {
 public:
  Transports(boost::asio::io_context& io, TransportUser& user, TransportsConfig config);
  Transports(const Transports&) = delete;
  Transports& operator=(const Transports&) = delete;
  ~Transports();

  // Opens every configured listening socket. On the first failure, closes the ones already open
  // and returns the error (e.g. address_in_use, address_not_available; failed_listen_point()
  // names the socket); no exception. Call once.
  boost::system::error_code start();
  // Before start(): listen on `points` instead of the configured ones.
  void listen_on(std::vector<ListenPoint> points) { config_.listen = std::move(points); }
  // The listening point start() failed on, if it failed.
  const std::optional<ListenPoint>& failed_listen_point() const { return failed_; }

  // Sends one complete message. UDP goes from the socket of the destination's address family
  // (kNoSocketForFamily if none). TCP goes on `to.connection` if it is still open, otherwise on an
  // open connection to address:port, otherwise on a new connection (RFC 3261 §18.2.2).
  // `done` may be empty; it is called exactly once, never from inside send().
  void send(const Destination& to, std::string bytes, SendCompletion done = {});

  // The bound port of the first listener of `protocol`, if any.
  std::optional<std::uint16_t> local_port(Protocol protocol) const;
  // Every listener with its bound port, in configuration order.
  std::vector<ListenPoint> listening() const;

  // Closes `id` after its queued writes (e.g. after answering on_stream_error). No-op if gone.
  void close_connection(ConnectionId id);
  // Connection `id` carried a valid message (TcpOptions: unconfirmed ones are closed soon).
  void confirm(ConnectionId id) { tcp_->confirm(id); }

  // The TCP connection table, for lookups (find by endpoint, connection(id), count).
  const TcpTransport& tcp() const { return *tcp_; }

  // Closes every socket and connection. Idempotent.
  void close();

 private:
  boost::asio::io_context& io_;
  TransportsConfig config_;
  TransportUser* user_;
  std::vector<std::shared_ptr<UdpTransport>> udp_;
  std::shared_ptr<TcpTransport> tcp_;  // exists from construction, so outbound TCP works unbound
  std::vector<Protocol> order_;        // the protocol of each open listener, in configuration order
  std::optional<ListenPoint> failed_;  // the listener start() could not open
  bool started_ = false;
  bool closed_ = false;
};

}  // namespace herald::sip::transport
