#include "sip/transport/udp_transport.h"

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstring>
#include <string_view>
#include <utility>

#include "sip/transport/errors.h"

namespace herald::sip::transport {

namespace asio = boost::asio;
using asio::ip::udp;
using boost::system::error_code;

namespace {

error_code last_error() { return {errno, boost::system::system_category()}; }

bool would_block(int error) { return error == EAGAIN || error == EWOULDBLOCK; }

}  // namespace

std::shared_ptr<UdpTransport> UdpTransport::create(asio::io_context& io, TransportUser& user) {
  return std::shared_ptr<UdpTransport>(new UdpTransport(io, user));
}

UdpTransport::UdpTransport(asio::io_context& io, TransportUser& user)
    : io_(io), user_(&user), socket_(io) {}

UdpTransport::~UdpTransport() {
  // Completions still queued are dropped with the handlers that would have run them: the
  // io_context that would run them is going away, or nothing holds this transport any more.
  user_ = nullptr;
  outbox_.clear();
  error_code ignored;
  socket_.close(ignored);
}

// SO_REUSEPORT, which Asio does not name.
using ReusePort = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

error_code UdpTransport::open(const udp::endpoint& local, bool share_port) {
  error_code ec;
  if (socket_.is_open()) return asio::error::already_open;
  socket_.open(local.protocol(), ec);
  if (!ec && local.address().is_v6()) socket_.set_option(asio::ip::v6_only(true), ec);
  // No SO_REUSEADDR, and SO_REUSEPORT only for the shards of this process (share_port, after
  // Transports::start made sure that nothing else held the port): for UDP on Linux either lets
  // another socket bind the same address and port and take a share of the datagrams, so a
  // second server (or any other program) would split the traffic silently. It gets EADDRINUSE.
  if (!ec && share_port) socket_.set_option(ReusePort(true), ec);
  if (!ec) socket_.bind(local, ec);
  if (!ec) local_ = socket_.local_endpoint(ec);
  if (!ec) socket_.non_blocking(true, ec);  // recvmmsg and sendmmsg never wait
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
  received_ = std::make_unique<ReceiveBatch>();
  received_->data = std::make_unique_for_overwrite<char[]>(kReceiveBatch * kMaxDatagram);
  receive();
  return {};
}

void UdpTransport::send(const udp::endpoint& to, std::string bytes, SendCompletion done) {
  if (!socket_.is_open()) {
    complete(done, TransportError::kClosed, /*post=*/true);
    return;
  }
  outbox_.push_back({to, std::move(bytes), std::move(done)});
  if (flush_posted_ || waiting_writable_) return;
  flush_posted_ = true;
  asio::post(io_, [self = shared_from_this()] {
    self->flush_posted_ = false;
    self->flush(/*closing=*/false);
  });
}

void UdpTransport::complete(SendCompletion& done, const error_code& ec, bool post) {
  if (!done) return;
  if (post) {
    asio::post(io_, [done = std::move(done), ec] { done(ec); });
  } else {
    done(ec);
  }
}

void UdpTransport::flush(bool closing) {
  // Sends made by the completions below queue behind this batch (and post their own flush).
  std::vector<Outgoing> batch;
  batch.swap(outbox_);
  std::array<mmsghdr, kSendBatch> headers{};
  std::array<iovec, kSendBatch> buffers{};
  std::size_t at = 0;
  while (at < batch.size()) {
    if (!socket_.is_open()) break;
    const std::size_t n = std::min(kSendBatch, batch.size() - at);
    for (std::size_t i = 0; i < n; ++i) {
      Outgoing& out = batch[at + i];
      buffers[i] = {out.bytes.data(), out.bytes.size()};
      headers[i] = {};
      headers[i].msg_hdr.msg_name = out.to.data();
      headers[i].msg_hdr.msg_namelen = static_cast<socklen_t>(out.to.size());
      headers[i].msg_hdr.msg_iov = &buffers[i];
      headers[i].msg_hdr.msg_iovlen = 1;
    }
    const int sent =
        ::sendmmsg(socket_.native_handle(), headers.data(), static_cast<unsigned>(n), MSG_DONTWAIT);
    if (sent < 0) {
      const int error = errno;
      if (error == EINTR) continue;
      if (would_block(error)) {
        if (closing) break;  // what the socket does not take now is not sent
        // The socket's buffer is full: the rest waits, ahead of what was queued meanwhile.
        outbox_.insert(outbox_.begin(),
                       std::make_move_iterator(batch.begin() + static_cast<std::ptrdiff_t>(at)),
                       std::make_move_iterator(batch.end()));
        waiting_writable_ = true;
        socket_.async_wait(udp::socket::wait_write,
                           [self = shared_from_this()](const error_code& ec) {
                             self->waiting_writable_ = false;
                             if (ec == asio::error::operation_aborted || !self->socket_.is_open())
                               return;
                             self->flush(/*closing=*/false);
                           });
        return;
      }
      // The first datagram is refused (EMSGSIZE, EHOSTUNREACH …); the ones after it go on.
      complete(batch[at].done, last_error(), closing);
      ++at;
      continue;
    }
    for (std::size_t i = 0; i < static_cast<std::size_t>(sent); ++i)
      complete(batch[at + i].done, {}, closing);
    at += static_cast<std::size_t>(sent);
  }
  for (; at < batch.size(); ++at) complete(batch[at].done, TransportError::kClosed, /*post=*/true);
}

void UdpTransport::close() {
  if (socket_.is_open()) flush(/*closing=*/true);
  for (Outgoing& out : outbox_) complete(out.done, TransportError::kClosed, /*post=*/true);
  outbox_.clear();
  user_ = nullptr;
  error_code ignored;
  socket_.close(ignored);
}

void UdpTransport::receive() {
  socket_.async_wait(udp::socket::wait_read, [self = shared_from_this()](const error_code& ec) {
    if (ec == asio::error::operation_aborted || !self->socket_.is_open()) return;
    self->read_batch();
  });
}

void UdpTransport::read_batch() {
  ReceiveBatch& batch = *received_;
  for (std::size_t i = 0; i < kReceiveBatch; ++i) {
    batch.buffers[i] = {batch.data.get() + i * kMaxDatagram, kMaxDatagram};
    batch.headers[i] = {};
    batch.headers[i].msg_hdr.msg_name = &batch.senders[i];
    batch.headers[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
    batch.headers[i].msg_hdr.msg_iov = &batch.buffers[i];
    batch.headers[i].msg_hdr.msg_iovlen = 1;
  }
  const int n = ::recvmmsg(socket_.native_handle(), batch.headers.data(), kReceiveBatch,
                           MSG_DONTWAIT, nullptr);
  if (n < 0) {
    const int error = errno;
    if (would_block(error)) {
      receive();
    } else {
      // Other errors (e.g. a reported ICMP error) concern one datagram exchange, not the
      // socket: datagrams may still be queued, and the reactor says so only for new ones.
      asio::post(io_, [self = shared_from_this()] {
        if (self->socket_.is_open()) self->read_batch();
      });
    }
    return;
  }
  for (int i = 0; i < n && user_ != nullptr; ++i) {
    const mmsghdr& h = batch.headers[static_cast<std::size_t>(i)];
    on_datagram(static_cast<const char*>(h.msg_hdr.msg_iov->iov_base), h.msg_len,
                batch.senders[static_cast<std::size_t>(i)], h.msg_hdr.msg_namelen);
  }
  if (!socket_.is_open()) return;
  if (static_cast<std::size_t>(n) < kReceiveBatch) {
    receive();  // the queue was emptied: the reactor reports the next datagram
    return;
  }
  // A full batch: more may be queued, which the reactor (edge-triggered) would not report.
  asio::post(io_, [self = shared_from_this()] {
    if (self->socket_.is_open()) self->read_batch();
  });
}

void UdpTransport::on_datagram(const char* data, std::size_t size, const sockaddr_storage& sender,
                               socklen_t sender_size) {
  std::string_view datagram(data, size);
  while (datagram.starts_with("\r\n")) datagram.remove_prefix(2);
  if (datagram.find_first_not_of("\r\n") == std::string_view::npos) return;  // keep-alive
  if (user_ == nullptr) return;
  udp::endpoint from;
  std::memcpy(from.data(), &sender, std::min<std::size_t>(sender_size, sizeof(sender)));
  from.resize(sender_size);
  Source source;
  source.protocol = Protocol::kUdp;
  source.remote_address = from.address();
  source.remote_port = from.port();
  source.local_address = local_.address();
  source.local_port = local_.port();
  user_->on_message(std::string(datagram), source);
}

}  // namespace herald::sip::transport
