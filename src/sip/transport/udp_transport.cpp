#include "sip/transport/udp_transport.h"

#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <string_view>
#include <utility>

#include "sip/transport/errors.h"
#include "sip/transport/socket_options.h"

namespace herald::sip::transport {

namespace asio = boost::asio;
using asio::ip::udp;
using boost::system::error_code;

std::shared_ptr<UdpTransport> UdpTransport::create(asio::io_context& io, TransportUser& user) {
  return std::shared_ptr<UdpTransport>(new UdpTransport(io, user));
}

UdpTransport::UdpTransport(asio::io_context& io, TransportUser& user)
    : io_(io),
      user_(&user),
      socket_(io),
      buffer_(std::make_unique<std::array<char, kMaxDatagram>>()) {}

UdpTransport::~UdpTransport() { close(); }

error_code UdpTransport::open(const udp::endpoint& local) {
  error_code ec;
  if (socket_.is_open()) return asio::error::already_open;
  socket_.open(local.protocol(), ec);
  if (!ec && local.address().is_v6()) socket_.set_option(asio::ip::v6_only(true), ec);
  if (!ec) socket_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) socket_.set_option(ReusePort(true), ec);
  if (!ec) socket_.bind(local, ec);
  if (!ec) local_ = socket_.local_endpoint(ec);
  if (!ec) socket_.non_blocking(true, ec);  // send() and drain() try the socket directly
  if (!ec) {
    // Room for bursts: the default (about 200 KiB) overflows in a few milliseconds of load and
    // every lost request costs its sender a retransmission interval. The kernel caps the
    // request at net.core.rmem_max; a refusal is not an error.
    error_code ignored;
    socket_.set_option(asio::socket_base::receive_buffer_size(kReceiveBuffer), ignored);
  }
  if (ec) {
    error_code ignored;
    socket_.close(ignored);
    return ec;
  }
  receive();
  return {};
}

void UdpTransport::send(const udp::endpoint& to, std::string bytes, SendCompletion done) {
  if (!socket_.is_open()) {
    if (done) asio::post(io_, [done = std::move(done)] { done(TransportError::kClosed); });
    return;
  }
  // Most datagrams leave at once: a non-blocking send costs one system call, where the reactor
  // would add an operation and a completion. Behind queued sends, the datagram queues too.
  if (queued_sends_ == 0) {
    error_code ec;
    socket_.send_to(asio::buffer(bytes), to, 0, ec);
    if (ec != asio::error::would_block && ec != asio::error::try_again) {
      if (done) asio::post(io_, [done = std::move(done), ec] { done(ec); });
      return;
    }
  }
  // The string must stay at one address until the send completes; the handler owns it.
  auto data = std::make_shared<std::string>(std::move(bytes));
  ++queued_sends_;
  socket_.async_send_to(asio::buffer(*data), to,
                        [self = shared_from_this(), data, done = std::move(done)](const error_code& ec, std::size_t) {
                          --self->queued_sends_;
                          if (done) done(ec);
                        });
}

void UdpTransport::close() {
  user_ = nullptr;
  error_code ignored;
  socket_.close(ignored);
}

void UdpTransport::receive() {
  socket_.async_receive_from(
      asio::buffer(*buffer_), sender_,
      [self = shared_from_this()](const error_code& ec, std::size_t size) {
        if (!self->socket_.is_open() || ec == asio::error::operation_aborted) {
          return;
        }
        // Other errors (e.g. a reported ICMP error) concern one datagram
        // exchange, not the socket: keep receiving.
        if (!ec) self->on_datagram(size);
        self->drain();
        if (self->socket_.is_open()) self->receive();
      });
}

void UdpTransport::drain() {
  // Datagrams already queued are read without a reactor round each, a bounded number so that
  // the shard's other sockets and timers get their turn.
  for (std::size_t i = 1; i < kReceiveBatch && socket_.is_open(); ++i) {
    error_code ec;
    const std::size_t size = socket_.receive_from(asio::buffer(*buffer_), sender_, 0, ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) return;
    if (!ec) on_datagram(size);
  }
}

void UdpTransport::on_datagram(std::size_t size) {
  std::string_view datagram(buffer_->data(), size);
  while (datagram.starts_with("\r\n")) datagram.remove_prefix(2);
  if (datagram.find_first_not_of("\r\n") == std::string_view::npos) return;  // keep-alive
  if (user_ == nullptr) return;
  Source source;
  source.protocol = Protocol::kUdp;
  source.remote_address = sender_.address();
  source.remote_port = sender_.port();
  source.local_address = local_.address();
  source.local_port = local_.port();
  user_->on_message(std::string(datagram), source);
}

}  // namespace herald::sip::transport
