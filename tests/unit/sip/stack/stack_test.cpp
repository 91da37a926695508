// sip::Stack on real loopback sockets: a request goes up to the transaction user and its answer
// comes back with the stack's identity header; sends wait behind an open batch of writes until
// it is durable; a request answered without a transaction leaves none behind; the stack names
// itself in Via as it listens.

#include "sip/stack/stack.h"

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <array>
#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "sip/transport/loopback.h"

namespace herald::sip {
namespace {

namespace asio = boost::asio;
using transport::Protocol;

// Answers OPTIONS (200), and, when `stateless` is set, answers them without a transaction.
class Answerer final : public txn::TransactionUser {
 public:
  void on_request(txn::ServerTransactionId id, const Message& request, const transport::Source&) override {
    ++requests;
    network->respond(id, request, 200, "OK", {{HeaderId::kAllow, "OPTIONS"}});
  }
  bool on_stateless_request(const Message& request, std::string_view, const transport::Source& source) override {
    if (!stateless) return false;
    ++requests;
    network->respond(Reply::stateless(source, "fixed-tag"), request, 200, "OK");
    return true;
  }
  Network* network = nullptr;
  bool stateless = false;
  int requests = 0;
};

class Batches final : public WriteBatches {
 public:
  bool open() const override { return is_open; }
  std::uint64_t begun() const override { return number; }
  bool is_open = false;
  std::uint64_t number = 0;
};

class StackTest : public ::testing::Test {
 protected:
  StackTest() {
    StackConfig config;
    config.transports.listen = {{Protocol::kUdp, asio::ip::make_address("127.0.0.1"), 0}};
    config.transports.budget.rate = 0;
    config.identity = "herald-test";
    stack_.emplace(io_, config, user_);
    user_.network = &*stack_;
    EXPECT_FALSE(stack_->start());
    port_ = stack_->listening().front().port;
    client_.open(asio::ip::udp::v4());
    client_.bind({asio::ip::make_address("127.0.0.1"), 0});
  }

  void send_options(std::string_view branch) {
    const auto local = client_.local_endpoint();
    const std::string text = "OPTIONS sip:127.0.0.1 SIP/2.0\r\n"
                             "Via: SIP/2.0/UDP 127.0.0.1:" + std::to_string(local.port()) +
                             ";branch=" + std::string(branch) + "\r\n"
                             "Max-Forwards: 70\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:127.0.0.1>\r\n"
                             "Call-ID: c-" + std::string(branch) + "\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    client_.send_to(asio::buffer(text), {asio::ip::make_address("127.0.0.1"), port_});
  }

  // What the client received within the loop's bounded slices; nullopt when nothing came.
  std::optional<Message> receive() {
    std::optional<Message> got;
    std::array<char, 4096> buffer{};
    client_.non_blocking(true);
    transport::testing::run_until(io_, [&] {
      boost::system::error_code ec;
      const std::size_t n = client_.receive(asio::buffer(buffer), 0, ec);
      if (!ec) {
        auto parsed = parse_message(std::string(buffer.data(), n));
        if (parsed.ok()) got = std::move(parsed).value();
      }
      return got.has_value();
    });
    return got;
  }
  bool nothing_received() {
    transport::testing::run_a_while(io_);
    std::array<char, 4096> buffer{};
    client_.non_blocking(true);
    boost::system::error_code ec;
    client_.receive(asio::buffer(buffer), 0, ec);
    return ec == asio::error::would_block;
  }

  asio::io_context io_;
  Answerer user_;
  std::optional<Stack> stack_;
  std::uint16_t port_ = 0;
  asio::ip::udp::socket client_{io_};
};

TEST_F(StackTest, ARequestGoesUpAndItsAnswerComesBackWithTheIdentityHeaderBeforeContentLength) {
  send_options("z9hG4bK-a1");
  auto response = receive();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status_code(), 200);
  EXPECT_EQ(user_.requests, 1);
  ASSERT_NE(response->find(HeaderId::kServer), nullptr);
  EXPECT_EQ(response->find(HeaderId::kServer)->value, "herald-test");
  EXPECT_EQ(response->headers().back().id, HeaderId::kContentLength);
  EXPECT_TRUE(response->get<hdr::To>()->tag().has_value());  // a fresh To tag
  EXPECT_EQ(stack_->response_counters().by_class[2], 1u);
  EXPECT_EQ(stack_->transactions().server_transactions(), 1u);  // kept for Timer J
}

TEST_F(StackTest, SendsWaitBehindAnOpenBatchUntilItIsDurable) {
  Batches batches;
  batches.is_open = true;
  batches.number = 7;
  stack_->gate_sends(&batches);
  send_options("z9hG4bK-b1");
  EXPECT_TRUE(nothing_received());  // held for batch 7
  EXPECT_EQ(user_.requests, 1);
  stack_->release(6);
  EXPECT_TRUE(nothing_received());  // still: batch 6 is not the one it waits for
  batches.is_open = false;
  stack_->release(7);
  auto response = receive();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status_code(), 200);
}

TEST_F(StackTest, AReplyWithoutATransactionKeepsNone) {
  user_.stateless = true;
  send_options("z9hG4bK-c1");
  auto response = receive();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status_code(), 200);
  EXPECT_EQ(response->get<hdr::To>()->tag().value_or(""), "fixed-tag");
  EXPECT_EQ(stack_->transactions().server_transactions(), 0u);
}

TEST_F(StackTest, NamesItselfAsItListens) {
  const std::string sent_by = "127.0.0.1:" + std::to_string(port_);
  EXPECT_EQ(stack_->sent_by(Protocol::kUdp), sent_by);
  EXPECT_EQ(stack_->sent_by(Protocol::kTcp), "");  // not listening on TCP
  EXPECT_EQ(stack_->sent_by_or_udp(Protocol::kTcp), sent_by);
  EXPECT_EQ(stack_->via(Protocol::kUdp, "z9hG4bK-x"), "SIP/2.0/UDP " + sent_by + ";branch=z9hG4bK-x;rport");
  EXPECT_TRUE(stack_->listens_on(asio::ip::make_address("127.0.0.1"), port_));
  EXPECT_FALSE(stack_->listens_on(asio::ip::make_address("127.0.0.2"), port_));
  EXPECT_TRUE(stack_->listens_on_port(port_));
}

TEST(StackWildcard, AWildcardAddressIsNamedByTheConfiguredHost) {
  asio::io_context io;
  Answerer user;
  StackConfig config;
  config.transports.listen = {{Protocol::kUdp, asio::ip::make_address("0.0.0.0"), 0}};
  config.wildcard_host = "example.com";
  Stack stack(io, config, user);
  ASSERT_FALSE(stack.start());
  const std::uint16_t port = stack.listening().front().port;
  EXPECT_EQ(stack.sent_by(Protocol::kUdp), "example.com:" + std::to_string(port));
  EXPECT_TRUE(stack.listens_on(asio::ip::make_address("127.0.0.9"), port));
}

}  // namespace
}  // namespace herald::sip
