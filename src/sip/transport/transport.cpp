#include "sip/transport/transport.h"

#include <boost/asio/post.hpp>
#include <utility>

namespace herald::sip::transport {

namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;
using boost::system::error_code;

Transports::Transports(asio::io_context& io, TransportUser& user, TransportsConfig config)
    : io_(io),
      config_(std::move(config)),
      user_(&user),
      tcp_(TcpTransport::create(io, user, config_.tcp)) {}

Transports::~Transports() { close(); }

error_code Transports::start() {
  if (closed_) return TransportError::kClosed;
  if (started_) return boost::asio::error::already_started;
  started_ = true;
  for (const ListenPoint& point : config_.listen) {
    error_code ec;
    switch (point.protocol) {
      case Protocol::kUdp: {
        auto socket = UdpTransport::create(io_, *user_);
        udp::endpoint local(point.address, point.port);
        if (config_.udp_sharing == UdpSharing::kFirst) {
          // Nothing else may hold it: a plain bind first (it also picks port 0's port).
          udp::socket probe(io_);
          probe.open(local.protocol(), ec);
          if (!ec && point.address.is_v6()) probe.set_option(asio::ip::v6_only(true), ec);
          if (!ec) probe.bind(local, ec);
          if (!ec) local = probe.local_endpoint(ec);
        }
        if (!ec) ec = socket->open(local, config_.udp_sharing != UdpSharing::kAlone);
        if (!ec) udp_.push_back(std::move(socket));
        break;
      }
      case Protocol::kTcp:
        ec = tcp_->listen(tcp::endpoint(point.address, point.port));
        break;
    }
    if (ec) {
      failed_ = point;
      close();
      return ec;
    }
    order_.push_back(point.protocol);
  }
  return {};
}

void Transports::send(const Destination& to, std::string bytes, SendCompletion done) {
  auto fail = [this, &done](error_code ec) {
    if (done) asio::post(io_, [done = std::move(done), ec] { done(ec); });
  };
  if (closed_) return fail(TransportError::kClosed);
  switch (to.protocol) {
    case Protocol::kUdp:
      for (const auto& socket : udp_) {
        if (socket->local_endpoint().address().is_v6() == to.address.is_v6()) {
          return socket->send(udp::endpoint(to.address, to.port), std::move(bytes),
                              std::move(done));
        }
      }
      return fail(TransportError::kNoSocketForFamily);
    case Protocol::kTcp:
      if (to.connection && tcp_->is_open(*to.connection)) {
        return tcp_->send(*to.connection, std::move(bytes), std::move(done));
      }
      return tcp_->send(tcp::endpoint(to.address, to.port), std::move(bytes), std::move(done));
  }
  fail(TransportError::kClosed);
}

std::optional<std::uint16_t> Transports::local_port(Protocol protocol) const {
  for (const ListenPoint& point : listening()) {
    if (point.protocol == protocol) return point.port;
  }
  return std::nullopt;
}

std::vector<ListenPoint> Transports::listening() const {
  std::vector<ListenPoint> points;
  auto udp_it = udp_.begin();
  const auto tcp_endpoints = tcp_->local_endpoints();
  auto tcp_it = tcp_endpoints.begin();
  for (Protocol protocol : order_) {
    if (protocol == Protocol::kUdp && udp_it != udp_.end()) {
      const auto endpoint = (*udp_it++)->local_endpoint();
      points.push_back({protocol, endpoint.address(), endpoint.port()});
    } else if (protocol == Protocol::kTcp && tcp_it != tcp_endpoints.end()) {
      const auto endpoint = *tcp_it++;
      points.push_back({protocol, endpoint.address(), endpoint.port()});
    }
  }
  return points;
}

void Transports::close_connection(ConnectionId id) { tcp_->close_connection(id); }

void Transports::close() {
  closed_ = true;
  for (auto& socket : udp_) socket->close();
  tcp_->close();
  udp_.clear();
  order_.clear();
}

}  // namespace herald::sip::transport
