#include "sip/transport/tcp_transport.h"

#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <utility>

#include "sip/transport/errors.h"

namespace herald::sip::transport {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

// Ids are unique across every shard of the process, hence atomic.
ConnectionId next_connection_id() {
  static std::atomic<std::uint64_t> next{1};
  return ConnectionId{next.fetch_add(1, std::memory_order_relaxed)};
}

// After an accept error such as EMFILE, wait this long before accepting again.
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(100);

}  // namespace

std::shared_ptr<TcpTransport> TcpTransport::create(asio::io_context& io, TransportUser& user,
                                                   TcpOptions options) {
  return std::shared_ptr<TcpTransport>(new TcpTransport(io, user, std::move(options)));
}

TcpTransport::TcpTransport(asio::io_context& io, TransportUser& user, TcpOptions options)
    : io_(io), user_(&user), options_(std::move(options)) {}

TcpTransport::~TcpTransport() { close(); }

error_code TcpTransport::listen(const tcp::endpoint& local) {
  if (user_ == nullptr) return TransportError::kClosed;
  auto acceptor = std::make_unique<tcp::acceptor>(io_);
  error_code ec;
  acceptor->open(local.protocol(), ec);
  if (!ec && local.address().is_v6()) acceptor->set_option(asio::ip::v6_only(true), ec);
  // SO_REUSEADDR only: a restarted server binds again at once despite connections in
  // TIME_WAIT, while a second listener on the same address still gets EADDRINUSE (no
  // SO_REUSEPORT, which would let another process share the port and its connections).
  if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor->bind(local, ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return ec;
  acceptors_.push_back(std::move(acceptor));
  accept(*acceptors_.back());
  return {};
}

std::vector<tcp::endpoint> TcpTransport::local_endpoints() const {
  std::vector<tcp::endpoint> endpoints;
  for (const auto& acceptor : acceptors_) {
    error_code ec;
    const auto endpoint = acceptor->local_endpoint(ec);
    if (!ec) endpoints.push_back(endpoint);
  }
  return endpoints;
}

void TcpTransport::accept(tcp::acceptor& acceptor) {
  acceptor.async_accept(
      [self = shared_from_this(), &acceptor](const error_code& ec, tcp::socket socket) {
        if (self->user_ == nullptr || !acceptor.is_open() || ec == asio::error::operation_aborted) {
          return;
        }
        if (!ec) {
          self->on_accepted(std::move(socket));
          self->accept(acceptor);
          return;
        }
        // E.g. out of file descriptors: back off instead of spinning.
        auto timer = std::make_shared<asio::steady_timer>(self->io_, kAcceptRetryDelay);
        timer->async_wait([self, timer, &acceptor](const error_code&) {
          if (self->user_ != nullptr && acceptor.is_open()) self->accept(acceptor);
        });
      });
}

void TcpTransport::on_accepted(tcp::socket socket) {
  error_code ec;
  const tcp::endpoint remote = socket.remote_endpoint(ec);
  if (ec) {
    socket.close(ec);
    return;
  }
  const SourceKey source = source_key(remote.address());
  const bool capped = options_.max_connections_per_source > 0 && !contains_any(options_.trusted, remote.address());
  if (capped) {
    const auto held = per_source_.find(source);
    if (held != per_source_.end() && held->second >= options_.max_connections_per_source) {
      ++counters_.refused_source_limit;
      socket.close(ec);  // refused: the peer sees an orderly close at once
      return;
    }
  }
  if (connections_.size() >= options_.max_connections && !evict_for(source)) {
    ++counters_.refused_limit;
    socket.close(ec);
    return;
  }
  auto connection = add(std::move(socket), remote);
  if (capped) {
    ++per_source_[source];
    counted_.emplace(connection->id(), source);
  }
  connection->start_accepted();
}

bool TcpTransport::evict_for(const SourceKey& source) {
  // The oldest inbound connection from another source that has not sent a valid message: a
  // slot held by someone who may never use it goes to someone new.
  std::shared_ptr<TcpConnection> oldest;
  for (const auto& [id, connection] : connections_) {
    if (connection->confirmed() || connection->state() != TcpConnection::State::kOpen) continue;
    if (source_key(connection->remote_endpoint().address()) == source) continue;
    if (!oldest || connection->opened_at() < oldest->opened_at()) oldest = connection;
  }
  if (!oldest) return false;
  ++counters_.evicted;
  oldest->abort(TransportError::kConnectionLimit);  // on_closed takes it out of the table
  return connections_.size() < options_.max_connections;
}

std::shared_ptr<TcpConnection> TcpTransport::add(tcp::socket socket, const tcp::endpoint& remote) {
  const ConnectionId id = next_connection_id();
  TcpConnection::Owner& owner = *this;
  auto connection =
      std::make_shared<TcpConnection>(std::move(socket), id, owner, options_.connection);
  connections_.emplace(id, connection);
  const std::lock_guard lock(by_remote_mutex_);
  by_remote_[remote] = id;
  return connection;
}

void TcpTransport::send(const tcp::endpoint& to, std::string bytes, SendCompletion done) {
  auto fail = [this, &done](error_code ec) {
    if (done) asio::post(io_, [done = std::move(done), ec] { done(ec); });
  };
  if (user_ == nullptr) return fail(TransportError::kClosed);
  if (const auto id = find(to))
    return connections_.at(*id)->send(std::move(bytes), std::move(done));
  if (connections_.size() >= options_.max_connections)
    return fail(TransportError::kConnectionLimit);
  auto connection = add(tcp::socket(io_), to);
  connection->send(std::move(bytes), std::move(done));
  connection->start_connect(to);
}

void TcpTransport::send(ConnectionId id, std::string bytes, SendCompletion done) {
  const auto it = connections_.find(id);
  if (it == connections_.end()) {
    if (done)
      asio::post(io_, [done = std::move(done)] { done(TransportError::kConnectionClosed); });
    return;
  }
  it->second->send(std::move(bytes), std::move(done));
}

bool TcpTransport::is_open(ConnectionId id) const {
  const auto it = connections_.find(id);
  return it != connections_.end() && it->second->accepts_sends();
}

std::optional<ConnectionId> TcpTransport::find(const tcp::endpoint& remote) const {
  std::optional<ConnectionId> id;
  {
    const std::lock_guard lock(by_remote_mutex_);
    const auto it = by_remote_.find(remote);
    if (it != by_remote_.end()) id = it->second;
  }
  if (!id || !is_open(*id)) return std::nullopt;
  return id;
}

bool TcpTransport::connected_to(const tcp::endpoint& remote) const {
  const std::lock_guard lock(by_remote_mutex_);
  return by_remote_.contains(remote);
}

std::optional<Source> TcpTransport::connection(ConnectionId id) const {
  const auto it = connections_.find(id);
  if (it == connections_.end()) return std::nullopt;
  return it->second->source();
}

void TcpTransport::close_connection(ConnectionId id) {
  const auto it = connections_.find(id);
  if (it != connections_.end()) it->second->close_gracefully({});
}

void TcpTransport::confirm(ConnectionId id) {
  const auto it = connections_.find(id);
  if (it != connections_.end()) it->second->confirm();
}

void TcpTransport::close() {
  user_ = nullptr;
  for (auto& acceptor : acceptors_) {
    error_code ignored;
    acceptor->close(ignored);
  }
  auto connections = std::move(connections_);
  connections_.clear();
  {
    const std::lock_guard lock(by_remote_mutex_);
    by_remote_.clear();
  }
  per_source_.clear();
  counted_.clear();
  for (auto& [id, connection] : connections) connection->detach();
}

void TcpTransport::on_message(TcpConnection& connection, std::string bytes) {
  if (user_ != nullptr) user_->on_message(std::move(bytes), connection.source());
}

void TcpTransport::on_stream_error(TcpConnection& connection, const StreamError& error) {
  if (user_ != nullptr) user_->on_stream_error(error, connection.source());
}

void TcpTransport::on_closed(TcpConnection& connection, const error_code& why) {
  const ConnectionId id = connection.id();
  {
    const std::lock_guard lock(by_remote_mutex_);
    const auto by_remote = by_remote_.find(connection.remote_endpoint());
    if (by_remote != by_remote_.end() && by_remote->second == id) by_remote_.erase(by_remote);
  }
  const auto keep_alive = connections_.find(id);  // `connection` lives until the end of this call
  std::shared_ptr<TcpConnection> holder;
  if (keep_alive != connections_.end()) {
    holder = std::move(keep_alive->second);
    connections_.erase(keep_alive);
  }
  if (const auto counted = counted_.find(id); counted != counted_.end()) {
    if (const auto held = per_source_.find(counted->second); held != per_source_.end() && --held->second == 0) {
      per_source_.erase(held);
    }
    counted_.erase(counted);
  }
  if (user_ != nullptr) user_->on_connection_closed(connection.source(), why);
}

}  // namespace herald::sip::transport
