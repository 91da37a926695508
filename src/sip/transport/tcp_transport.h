#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>
#include <map>
#include <mutex>
#include <memory>
#include <vector>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "sip/transport/source_limits.h"
#include "sip/transport/tcp_connection.h"
#include "sip/transport/transport_user.h"

namespace herald::sip::transport {

struct TcpOptions {
  ConnectionSettings connection;
  // Inbound and outbound connections together. At the limit, a new inbound connection takes
  // the place of the oldest unconfirmed one from another source (it has sent no valid message
  // yet), or is closed at once when there is none; outbound sends fail with
  // TransportError::kConnectionLimit.
  std::size_t max_connections = 4096;
  // Inbound connections one source (SourceKey: an IPv4 address, an IPv6 /64) may hold; beyond,
  // new ones are closed at once. 0: no cap. Sources in `trusted` have none either.
  std::size_t max_connections_per_source = 64;
  std::vector<Subnet> trusted;
};

struct TcpCounters {
  std::uint64_t refused_source_limit = 0;  // closed at accept: the source was at its cap
  std::uint64_t refused_limit = 0;         // closed at accept: the table was full
  std::uint64_t evicted = 0;               // unconfirmed connections closed to make room
};

// The TCP side of one shard: any number of listening sockets (SO_REUSEADDR only, so that no other
// socket can listen on the same address and port; IPv6 ones are v6-only), outbound connects, and one connection table keyed by ConnectionId and
// by remote endpoint. A send to an address:port reuses an open connection to it whichever side
// opened it (RFC 3261 §18); otherwise it connects, queueing the bytes meanwhile.
//
// Threading: every call (but connected_to) and every user callback on the io_context's thread. Lifetime: shared_ptr;
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
  // Whether a connection to `remote` is in the table (open or closing). The one call that is
  // safe from any thread: another shard asks it before it hands a send to this one.
  bool connected_to(const boost::asio::ip::tcp::endpoint& remote) const;
  // Where connection `id` goes, if it still exists.
  std::optional<Source> connection(ConnectionId id) const;
  std::size_t connection_count() const { return connections_.size(); }

  // Closes `id` after its queued writes are written (see TcpConnection::close_gracefully).
  void close_connection(ConnectionId id);
  // Connection `id` carried a valid message (see ConnectionSettings::unconfirmed_timeout).
  void confirm(ConnectionId id);
  const TcpCounters& counters() const { return counters_; }
  // Stops accepting and closes every connection; no user callback afterwards. Idempotent.
  void close();

 private:
  TcpTransport(boost::asio::io_context& io, TransportUser& user, TcpOptions options);

  void accept(boost::asio::ip::tcp::acceptor& acceptor);
  void on_accepted(boost::asio::ip::tcp::socket socket);
  std::shared_ptr<TcpConnection> add(boost::asio::ip::tcp::socket socket,
                                     const boost::asio::ip::tcp::endpoint& remote);
  // Makes room for a connection from `source` at the global limit; false when none can go.
  bool evict_for(const SourceKey& source);

  void on_message(TcpConnection& connection, std::string bytes) override;
  void on_stream_error(TcpConnection& connection, const StreamError& error) override;
  void on_closed(TcpConnection& connection, const boost::system::error_code& why) override;

  boost::asio::io_context& io_;
  TransportUser* user_;  // null after close()
  TcpOptions options_;
  std::vector<std::unique_ptr<boost::asio::ip::tcp::acceptor>> acceptors_;
  std::unordered_map<ConnectionId, std::shared_ptr<TcpConnection>> connections_;
  mutable std::mutex by_remote_mutex_;  // other shards read by_remote_ (connected_to)
  std::map<boost::asio::ip::tcp::endpoint, ConnectionId> by_remote_;
  // Inbound connections per source (not counted for trusted sources), and the ids counted.
  std::unordered_map<SourceKey, std::size_t, SourceKeyHash> per_source_;
  std::unordered_map<ConnectionId, SourceKey> counted_;
  TcpCounters counters_;
};

}  // namespace herald::sip::transport
