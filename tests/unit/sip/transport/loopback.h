#pragma once

// Helpers for loopback tests: a recording TransportUser, a bounded run loop, and a raw TCP client.

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sip/transport/transport.h"

namespace herald::sip::transport::testing {

namespace asio = boost::asio;

// Runs `io` in short slices until `done()` holds or about 5 seconds of slices have passed.
// Returns done(). Asserts no timing: the bound only keeps a broken test from hanging.
inline bool run_until(asio::io_context& io, const std::function<bool()>& done) {
  for (int i = 0; i < 500 && !done(); ++i) {
    io.restart();
    io.run_for(std::chrono::milliseconds(10));
  }
  return done();
}

// Lets queued handlers run a little (e.g. to show that nothing more arrives).
inline void run_a_while(asio::io_context& io) {
  io.restart();
  io.run_for(std::chrono::milliseconds(50));
}

inline bool ipv6_loopback_available() {
  asio::io_context io;
  asio::ip::udp::socket socket(io);
  boost::system::error_code ec;
  socket.open(asio::ip::udp::v6(), ec);
  if (!ec) socket.bind({asio::ip::address_v6::loopback(), 0}, ec);
  return !ec;
}

// Parameter for tests run on both 127.0.0.1 and ::1.
inline asio::ip::address loopback(bool v6) {
  return v6 ? asio::ip::address(asio::ip::address_v6::loopback())
            : asio::ip::address(asio::ip::address_v4::loopback());
}

// Names the IPv4 / IPv6 instances of a parameterized test.
inline std::string family_name(const ::testing::TestParamInfo<bool>& param) {
  return param.param ? "IPv6" : "IPv4";
}

#define HERALD_SKIP_WITHOUT_IPV6(v6)                                             \
  do {                                                                           \
    if ((v6) && !::herald::sip::transport::testing::ipv6_loopback_available()) { \
      GTEST_SKIP() << "IPv6 loopback (::1) is not available on this machine";    \
    }                                                                            \
  } while (false)

struct Received {
  std::string bytes;
  Source source;
};

struct Closed {
  Source source;
  boost::system::error_code why;
};

// Records every callback. `on_error_reply`, if set, is sent on the connection during
// on_stream_error (the way the layer above answers 400/413).
class Recorder : public TransportUser {
 public:
  void on_message(std::string bytes, const Source& source) override {
    messages.push_back({std::move(bytes), source});
  }
  void on_stream_error(const StreamError& error, const Source& source) override {
    errors.push_back(error.error);
    error_headers.emplace_back(error.header_block);
    if (transports != nullptr && !on_error_reply.empty()) {
      transports->send(Destination::reply_to(source), on_error_reply);
    }
  }
  void on_connection_closed(const Source& source, const boost::system::error_code& why) override {
    closed.push_back({source, why});
  }

  Transports* transports = nullptr;
  std::string on_error_reply;
  std::vector<Received> messages;
  std::vector<FrameError> errors;
  std::vector<std::string> error_headers;
  std::vector<Closed> closed;
};

// A plain TCP client on the test's io_context: blocking connect and write (small writes fit the
// kernel's buffers), asynchronous reads collected into `received` until end of stream.
class RawClient {
 public:
  explicit RawClient(asio::io_context& io) : socket_(io) {}

  // From `from` (another loopback address, say), when given.
  boost::system::error_code connect(const asio::ip::tcp::endpoint& to,
                                    const std::optional<asio::ip::address>& from = std::nullopt) {
    boost::system::error_code ec;
    if (from) {
      socket_.open(to.protocol(), ec);
      if (!ec) socket_.bind({*from, 0}, ec);
      if (ec) return ec;
    }
    socket_.connect(to, ec);
    if (!ec) read();
    return ec;
  }
  void write(const std::string& bytes) {
    boost::system::error_code ec;
    asio::write(socket_, asio::buffer(bytes), ec);
    ASSERT_FALSE(ec) << ec.message();
  }
  asio::ip::tcp::endpoint local_endpoint() const { return socket_.local_endpoint(); }
  void close() {
    boost::system::error_code ec;
    socket_.close(ec);
  }

  std::string received;
  bool ended = false;  // end of stream or error

 private:
  void read() {
    socket_.async_read_some(asio::buffer(chunk_),
                            [this](const boost::system::error_code& ec, std::size_t n) {
                              received.append(chunk_.data(), n);
                              if (ec) {
                                ended = true;
                                return;
                              }
                              read();
                            });
  }

  asio::ip::tcp::socket socket_;
  std::array<char, 4096> chunk_{};
};

inline std::string options_request(const std::string& tag) {
  return "OPTIONS sip:" + tag +
         "@example.com SIP/2.0\r\n"
         "Via: SIP/2.0/TCP client.example.com;branch=z9hG4bK" +
         tag +
         "\r\n"
         "Call-ID: " +
         tag +
         "\r\n"
         "Content-Length: 0\r\n\r\n";
}

inline std::string message_request(const std::string& body) {
  return "MESSAGE sip:bob@example.com SIP/2.0\r\n"
         "Content-Type: text/plain\r\n"
         "Content-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

}  // namespace herald::sip::transport::testing
