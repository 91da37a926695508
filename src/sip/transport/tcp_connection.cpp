#include "sip/transport/tcp_connection.h"

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <utility>
#include <vector>

#include "sip/transport/errors.h"

namespace herald::sip::transport {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr std::size_t kReadChunk = std::size_t{16} * 1024;
// Queued messages one write takes at most (a writev takes 1024 buffers).
constexpr std::size_t kWriteBatch = 64;
constexpr std::string_view kPong = "\r\n";

Source make_source(ConnectionId id, const tcp::endpoint& remote, const tcp::endpoint& local) {
  Source source;
  source.protocol = Protocol::kTcp;
  source.remote_address = remote.address();
  source.remote_port = remote.port();
  source.local_address = local.address();
  source.local_port = local.port();
  source.connection = id;
  return source;
}

}  // namespace

TcpConnection::TcpConnection(tcp::socket socket, ConnectionId id, Owner& owner,
                             const ConnectionSettings& settings)
    : socket_(std::move(socket)),
      owner_(&owner),
      settings_(settings),
      framer_(settings.limits),
      timer_(socket_.get_executor()) {
  source_.protocol = Protocol::kTcp;
  source_.connection = id;
  touch();
  opened_at_ = last_activity_;
}

void TcpConnection::start_accepted() {
  error_code ec;
  const auto remote = socket_.remote_endpoint(ec);
  const auto local = socket_.local_endpoint(ec);
  source_ = make_source(id(), remote, local);
  on_connected();
}

void TcpConnection::start_connect(const tcp::endpoint& remote) {
  source_ = make_source(id(), remote, {});
  state_ = State::kConnecting;
  confirmed_ = true;  // this side opened it
  arm_timer(settings_.connect_timeout);
  socket_.async_connect(remote, [self = shared_from_this()](const error_code& ec) {
    if (self->state_ != State::kConnecting) return;  // timed out or closed meanwhile
    if (ec) {
      self->abort(ec);
      return;
    }
    error_code ignored;
    self->source_ =
        make_source(self->id(), self->remote_endpoint(), self->socket_.local_endpoint(ignored));
    self->on_connected();
  });
}

void TcpConnection::on_connected() {
  error_code ignored;
  socket_.set_option(tcp::no_delay(true), ignored);
  state_ = State::kOpen;
  touch();
  arm_timer(next_deadline().first - std::chrono::steady_clock::now());
  read();
  write_next();
}

void TcpConnection::send(std::string bytes, SendCompletion done) {
  if (!accepts_sends()) {
    if (done) {
      asio::post(socket_.get_executor(),
                 [done = std::move(done)] { done(TransportError::kConnectionClosed); });
    }
    return;
  }
  queue_.push_back({std::move(bytes), std::move(done)});
  if (state_ != State::kConnecting) write_next();
}

void TcpConnection::write_next() {
  if (writing_ || queue_.empty() || state_ == State::kConnecting || state_ == State::kClosed) {
    return;
  }
  // Everything queued goes in one write (one system call for a burst of answers, not one per
  // message), up to kWriteBatch messages. The in-flight write owns its bytes, so they outlive
  // the operation even if the queue is cleared by a close.
  auto batch = std::make_shared<std::vector<PendingWrite>>();
  const std::size_t n = std::min(queue_.size(), kWriteBatch);
  batch->reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    batch->push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  std::vector<asio::const_buffer> buffers;
  buffers.reserve(n);
  for (const PendingWrite& w : *batch) buffers.emplace_back(asio::buffer(w.bytes));
  writing_ = true;
  asio::async_write(socket_, buffers, [self = shared_from_this(), batch](const error_code& ec, std::size_t) {
    self->writing_ = false;
    auto complete = [&](const error_code& outcome) {
      for (PendingWrite& w : *batch) {
        if (w.done) w.done(outcome);
      }
    };
    if (self->state_ == State::kClosed) {
      complete(TransportError::kConnectionClosed);
      return;
    }
    if (ec) {
      complete(ec);
      self->abort(ec);
      return;
    }
    self->touch();
    complete(ec);
    if (self->writing_ || self->state_ == State::kClosed) return;
    if (!self->queue_.empty()) {
      self->write_next();
    } else if (self->state_ == State::kDraining) {
      self->linger();
    }
  });
}

void TcpConnection::read() {
  if (reading_) return;  // the read in flight will carry on
  reading_ = true;
  const std::size_t old_size = inbox_.size();
  inbox_.resize(old_size + kReadChunk);
  socket_.async_read_some(
      asio::buffer(inbox_.data() + old_size, kReadChunk),
      [self = shared_from_this(), old_size](const error_code& ec, std::size_t n) {
        self->on_read(ec, old_size, n);
      });
}

void TcpConnection::on_read(const error_code& ec, std::size_t old_size, std::size_t n) {
  reading_ = false;
  inbox_.resize(old_size + n);
  if (state_ == State::kClosed) return;
  if (state_ == State::kLingering) {  // discarding until the peer closes
    inbox_.clear();
    if (ec) {
      finish(close_reason_, true);
    } else {
      read();
    }
    return;
  }
  if (ec) {
    // A peer's orderly close (eof) or a reset. Replies still queued are written first.
    read_failed_ = true;
    if (queue_.empty() && !writing_) {
      abort(ec);
    } else {
      state_ = State::kDraining;
      close_reason_ = ec;
    }
    return;
  }
  touch();
  process_input();
  if (state_ == State::kOpen) {
    arm_deadline();
    read();
  }
}

void TcpConnection::process_input() {
  auto self = shared_from_this();  // a callback may drop the Owner's reference
  std::size_t offset = 0;
  bool framed = false;  // a message or ping was taken off: what is left began in this read
  while (state_ == State::kOpen) {
    const std::string_view unframed = std::string_view(inbox_).substr(offset);
    const Frame frame = framer_.next(unframed);
    if (frame.status == FrameStatus::kNeedMore) break;
    if (frame.status == FrameStatus::kBad) {
      state_ = State::kDraining;
      close_reason_ = TransportError::kStreamFraming;
      if (owner_ != nullptr) {
        owner_->on_stream_error(*this, {frame.error, frame.header_block, frame.header_complete});
      }
      inbox_.clear();
      if (state_ == State::kDraining && queue_.empty() && !writing_) linger();
      return;
    }
    offset += frame.consumed;
    framed = true;
    if (frame.kind == FrameKind::kPing) {
      send(std::string(kPong), {});
    } else if (frame.kind == FrameKind::kMessage && owner_ != nullptr) {
      owner_->on_message(*this, std::string(frame.message));
    }
  }
  if (state_ == State::kClosed) return;
  inbox_.erase(0, std::min(offset, inbox_.size()));
  if (inbox_.empty()) {
    partial_since_.reset();
  } else if (framed || !partial_since_) {
    partial_since_ = last_activity_;  // the first bytes of the next message
  }
}

void TcpConnection::close_gracefully(const error_code& why) {
  if (state_ == State::kClosed || state_ == State::kLingering || state_ == State::kDraining) return;
  if (state_ == State::kConnecting) {
    abort(why);
    return;
  }
  state_ = State::kDraining;
  close_reason_ = why;
  if (queue_.empty() && !writing_) linger();
}

void TcpConnection::linger() {
  state_ = State::kLingering;
  error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_send, ignored);
  if (read_failed_) {  // the peer already closed its side: nothing to wait for
    finish(close_reason_, true);
    return;
  }
  arm_timer(settings_.linger_timeout);
  read();
}

void TcpConnection::abort(const error_code& why) { finish(why, true); }

void TcpConnection::detach() {
  owner_ = nullptr;
  finish(TransportError::kClosed, false);
}

void TcpConnection::finish(const error_code& why, bool notify) {
  if (state_ == State::kClosed) return;
  auto self = shared_from_this();
  const bool was_connecting = state_ == State::kConnecting;
  state_ = State::kClosed;
  close_reason_ = why;
  ++timer_generation_;
  timer_.cancel();
  error_code ignored;
  socket_.close(ignored);
  // Queued sends fail with the connect error when the connection never opened.
  const error_code failure =
      (was_connecting && why) ? why : make_error_code(TransportError::kConnectionClosed);
  auto queue = std::move(queue_);
  queue_.clear();
  for (auto& pending : queue) {
    if (pending.done) {
      asio::post(socket_.get_executor(),
                 [done = std::move(pending.done), failure] { done(failure); });
    }
  }
  if (notify && owner_ != nullptr) {
    Owner* owner = owner_;
    owner_ = nullptr;
    owner->on_closed(*this, why);
  }
}

void TcpConnection::arm_timer(std::chrono::steady_clock::duration after) {
  const std::uint64_t generation = ++timer_generation_;
  armed_for_ = std::chrono::steady_clock::now() + after;
  timer_.expires_at(armed_for_);
  timer_.async_wait([self = shared_from_this(), generation](const error_code& ec) {
    if (ec || generation != self->timer_generation_) return;
    self->on_timer();
  });
}

std::pair<std::chrono::steady_clock::time_point, error_code> TcpConnection::next_deadline() const {
  std::pair<std::chrono::steady_clock::time_point, error_code> next{last_activity_ + settings_.idle_timeout,
                                                                     asio::error::timed_out};
  if (partial_since_ && *partial_since_ + settings_.message_timeout < next.first) {
    next = {*partial_since_ + settings_.message_timeout, TransportError::kSlowMessage};
  }
  if (!confirmed_ && opened_at_ + settings_.unconfirmed_timeout < next.first) {
    next = {opened_at_ + settings_.unconfirmed_timeout, TransportError::kNoValidMessage};
  }
  return next;
}

void TcpConnection::arm_deadline() {
  const auto deadline = next_deadline().first;
  if (deadline < armed_for_) arm_timer(deadline - std::chrono::steady_clock::now());
}

void TcpConnection::on_timer() {
  switch (state_) {
    case State::kConnecting:
      abort(asio::error::timed_out);
      return;
    case State::kOpen:
    case State::kDraining: {
      const auto [deadline, why] = next_deadline();
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) {
        abort(why);
      } else {
        arm_timer(deadline - now);
      }
      return;
    }
    case State::kLingering:
      finish(close_reason_, true);
      return;
    case State::kClosed:
      return;
  }
}

}  // namespace herald::sip::transport
