#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "sip/transport/errors.h"
#include "sip/transport/stream_framer.h"
#include "sip/transport/transport_user.h"

namespace herald::sip::transport {

// Timing and size settings shared by every connection of one TcpTransport.
struct ConnectionSettings {
  FramerLimits limits;
  std::chrono::steady_clock::duration connect_timeout = std::chrono::seconds(5);
  std::chrono::steady_clock::duration idle_timeout = std::chrono::seconds(600);
  // Once the first bytes of a message have arrived, the rest must follow within this: a peer
  // sending a byte now and then (slowloris) would otherwise hold the connection forever.
  std::chrono::steady_clock::duration message_timeout = std::chrono::seconds(10);
  // An accepted connection must carry a valid message (confirm()) within this: one that only
  // holds a slot, or sends what never parses, is closed long before idle_timeout.
  std::chrono::steady_clock::duration unconfirmed_timeout = std::chrono::seconds(10);
  // After a graceful close has sent its last bytes and a FIN, how long to keep reading (and
  // discarding) so that the peer gets the reply instead of a reset.
  std::chrono::steady_clock::duration linger_timeout = std::chrono::seconds(2);
};

// One TCP connection: a socket, a StreamFramer, an ordered write queue and one timer (connect
// timeout; then the earliest of the idle, message and unconfirmed deadlines; then lingering
// close). It answers CRLFCRLF pings with a CRLF pong itself and reports everything else to its
// Owner.
//
// Threading: all calls and callbacks on the io_context's thread. Lifetime: shared_ptr; pending
// operations keep it alive. The Owner must call detach() before it goes away.
class TcpConnection : public std::enable_shared_from_this<TcpConnection> {
 public:
  // Implemented by TcpTransport. Callbacks may call back into the connection.
  class Owner {
   public:
    virtual void on_message(TcpConnection& connection, std::string bytes) = 0;
    virtual void on_stream_error(TcpConnection& connection, const StreamError& error) = 0;
    // Called exactly once, when the connection has closed for good.
    virtual void on_closed(TcpConnection& connection, const boost::system::error_code& why) = 0;

   protected:
    virtual ~Owner() = default;
  };

  enum class State { kConnecting, kOpen, kDraining, kLingering, kClosed };

  TcpConnection(boost::asio::ip::tcp::socket socket, ConnectionId id, Owner& owner,
                const ConnectionSettings& settings);
  TcpConnection(const TcpConnection&) = delete;
  TcpConnection& operator=(const TcpConnection&) = delete;

  // Starts an accepted connection (the socket is connected).
  void start_accepted();
  // Connects to `remote` within connect_timeout; sends queued meanwhile go out once connected,
  // or fail with the connect error.
  void start_connect(const boost::asio::ip::tcp::endpoint& remote);

  // Queues bytes to be written after everything queued before. `done` (may be empty) is called
  // once with the outcome; kConnectionClosed if the connection closes before they are written.
  void send(std::string bytes, SendCompletion done);

  // Stops reading messages; once queued writes are written, sends FIN, reads and discards until
  // the peer closes (or linger_timeout), then closes with `why`.
  void close_gracefully(const boost::system::error_code& why);
  // Closes now; queued sends fail. The Owner hears on_closed(why).
  void abort(const boost::system::error_code& why);
  // Closes silently: no more Owner callbacks. For the Owner's own shutdown.
  void detach();
  // The peer has sent a valid message: unconfirmed_timeout no longer applies. Connections this
  // side opened are confirmed from the start.
  void confirm() { confirmed_ = true; }
  bool confirmed() const { return confirmed_; }
  // When the connection was accepted or opened.
  std::chrono::steady_clock::time_point opened_at() const { return opened_at_; }

  ConnectionId id() const { return source_.connection.value_or(ConnectionId{}); }
  const Source& source() const { return source_; }
  boost::asio::ip::tcp::endpoint remote_endpoint() const {
    return {source_.remote_address, source_.remote_port};
  }
  State state() const { return state_; }
  // True while new sends can still be written (connecting, open, or draining after an error).
  bool accepts_sends() const {
    return state_ == State::kConnecting || state_ == State::kOpen || state_ == State::kDraining;
  }

 private:
  struct PendingWrite {
    std::string bytes;
    SendCompletion done;
  };

  void on_connected();
  void read();
  void on_read(const boost::system::error_code& ec, std::size_t old_size, std::size_t n);
  void process_input();
  void write_next();
  void linger();
  void arm_timer(std::chrono::steady_clock::duration after);
  // While open: the earliest deadline (idle, message, unconfirmed) and the error it ends with.
  std::pair<std::chrono::steady_clock::time_point, boost::system::error_code> next_deadline() const;
  // Arms the timer for next_deadline() when that is earlier than what it is armed for.
  void arm_deadline();
  void on_timer();
  void finish(const boost::system::error_code& why, bool notify);
  void touch() { last_activity_ = std::chrono::steady_clock::now(); }

  boost::asio::ip::tcp::socket socket_;
  Owner* owner_;  // null after detach()
  const ConnectionSettings settings_;
  StreamFramer framer_;
  Source source_;
  State state_ = State::kConnecting;
  boost::system::error_code close_reason_;

  std::string inbox_;               // received bytes not yet framed
  std::deque<PendingWrite> queue_;  // writes not yet started
  bool writing_ = false;            // one async_write in flight (it owns its bytes)
  bool reading_ = false;            // one async_read_some in flight (into inbox_'s tail)
  bool read_failed_ = false;        // the peer closed or reset its side

  boost::asio::steady_timer timer_;
  std::uint64_t timer_generation_ = 0;  // a timer handler from an older arm is ignored
  std::chrono::steady_clock::time_point armed_for_;  // when the armed timer fires
  std::chrono::steady_clock::time_point last_activity_;
  std::chrono::steady_clock::time_point opened_at_;
  // When the first bytes of the message still incomplete in inbox_ arrived.
  std::optional<std::chrono::steady_clock::time_point> partial_since_;
  bool confirmed_ = false;
};

}  // namespace herald::sip::transport
