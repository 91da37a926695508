#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "sip/transport/tcp_connection.h"
#include "sip/transport/transport_user.h"

namespace herald::sip::transport {

struct TcpOptions {
  ConnectionSettings connection;
  // Inbound and outbound connections together. At the limit, accepted connections are closed at
  // once and outbound sends fail with TransportError::kConnectionLimit.
  std::size_t max_connections = 4096;
};

// The TCP side of one shard: any number of listening sockets (SO_REUSEADDR + SO_REUSEPORT;
// IPv6 ones are v6-only), outbound connects, and one connection table keyed by ConnectionId and
// by remote endpoint. A send to an address:port reuses an open connection to it whichever side
// opened it (RFC 3261 §18); otherwise it connects, queueing the bytes meanwhile.
//
// Threading: every call and every user callback on the io_context's thread. Lifetime: shared_ptr;
// the TransportUser must outlive it or close() must be called first.
class TcpTransport final : public std::enable_shared_from_this<TcpTransport>,
                           private TcpConnection::Owner {
 public:
  static std::shared_ptr<TcpTransport> create(boost::asio::io_context& io, TransportUser& user,
                                              TcpOptions options = {});

  TcpTransport(const TcpTransport&) = delete;
  TcpTransport& operator=(const TcpTransport&) = delete;
  ~TcpTransport() override;

  // Adds a listening socket and starts accepting (port 0 picks a free port).
  boost::system::error_code listen(const boost::asio::ip::tcp::endpoint& local);
  // Bound listening endpoints, in listen() order, with their real ports.
  std::vector<boost::asio::ip::tcp::endpoint> local_endpoints() const;

  // Sends on the connection to `to` (reused or newly opened). `done` may be empty.
  void send(const boost::asio::ip::tcp::endpoint& to, std::string bytes, SendCompletion done);
  // Sends on connection `id`; fails with kConnectionClosed if it is gone. Use is_open() first to
  // fall back to an address instead.
  void send(ConnectionId id, std::string bytes, SendCompletion done);

  bool is_open(ConnectionId id) const;
  // The open (or connecting) connection to `remote`, if any.
  std::optional<ConnectionId> find(const boost::asio::ip::tcp::endpoint& remote) const;
  // Where connection `id` goes, if it still exists.
  std::optional<Source> connection(ConnectionId id) const;
  std::size_t connection_count() const { return connections_.size(); }

  // Closes `id` after its queued writes are written (see TcpConnection::close_gracefully).
  void close_connection(ConnectionId id);
  // Stops accepting and closes every connection; no user callback afterwards. Idempotent.
  void close();

 private:
  TcpTransport(boost::asio::io_context& io, TransportUser& user, TcpOptions options);

  void accept(boost::asio::ip::tcp::acceptor& acceptor);
  void on_accepted(boost::asio::ip::tcp::socket socket);
  std::shared_ptr<TcpConnection> add(boost::asio::ip::tcp::socket socket,
                                     const boost::asio::ip::tcp::endpoint& remote);

  void on_message(TcpConnection& connection, std::string bytes) override;
  void on_stream_error(TcpConnection& connection, const StreamError& error) override;
  void on_closed(TcpConnection& connection, const boost::system::error_code& why) override;

  boost::asio::io_context& io_;
  TransportUser* user_;  // null after close()
  TcpOptions options_;
  std::vector<std::unique_ptr<boost::asio::ip::tcp::acceptor>> acceptors_;
  std::unordered_map<ConnectionId, std::shared_ptr<TcpConnection>> connections_;
  std::map<boost::asio::ip::tcp::endpoint, ConnectionId> by_remote_;
};

}  // namespace herald::sip::transport
