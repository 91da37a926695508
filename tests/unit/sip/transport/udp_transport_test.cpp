#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "loopback.h"
#include "sip/transport/transport.h"

namespace herald::sip::transport {
namespace {

using testing::loopback;
using testing::Recorder;
using testing::run_a_while;
using testing::run_until;
namespace asio = boost::asio;

// Two UDP transports on loopback, each recording what it receives.
struct Peers {
  Peers(asio::io_context& io, const TransportsConfig& config)
      : alice(io, alice_user, config), bob(io, bob_user, config) {}
  bool start() { return !alice.start() && !bob.start(); }

  Recorder alice_user;
  Recorder bob_user;
  Transports alice;
  Transports bob;
};

class UdpLoopbackTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override { HERALD_SKIP_WITHOUT_IPV6(GetParam()); }

  TransportsConfig config() const { return {{{Protocol::kUdp, loopback(GetParam()), 0}}, {}, {}}; }
  Destination to(const Transports& peer) const {
    return {Protocol::kUdp, loopback(GetParam()), *peer.local_port(Protocol::kUdp), std::nullopt};
  }

  asio::io_context io_;
};

TEST_P(UdpLoopbackTest, SendAndReceiveBothWays) {
  Peers peers(io_, config());
  ASSERT_TRUE(peers.start());
  ASSERT_NE(*peers.alice.local_port(Protocol::kUdp), 0);
  EXPECT_FALSE(peers.alice.local_port(Protocol::kTcp).has_value());

  const std::string request = testing::options_request("udp1");
  std::optional<boost::system::error_code> sent;
  peers.alice.send(to(peers.bob), request, [&](const boost::system::error_code& ec) { sent = ec; });
  EXPECT_FALSE(sent.has_value()) << "completion must not run inside send()";
  ASSERT_TRUE(run_until(io_, [&] { return !peers.bob_user.messages.empty(); }));
  ASSERT_TRUE(sent.has_value());
  EXPECT_FALSE(*sent);

  const testing::Received& got = peers.bob_user.messages.front();
  EXPECT_EQ(got.bytes, request);
  EXPECT_EQ(got.source.protocol, Protocol::kUdp);
  EXPECT_EQ(got.source.remote_address, loopback(GetParam()));
  EXPECT_EQ(got.source.remote_port, *peers.alice.local_port(Protocol::kUdp));
  EXPECT_EQ(got.source.local_port, *peers.bob.local_port(Protocol::kUdp));
  EXPECT_FALSE(got.source.connection.has_value());

  const std::string response = "SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n";
  peers.bob.send(Destination::reply_to(got.source), response);
  ASSERT_TRUE(run_until(io_, [&] { return !peers.alice_user.messages.empty(); }));
  EXPECT_EQ(peers.alice_user.messages.front().bytes, response);
}

TEST_P(UdpLoopbackTest, KeepAliveDatagramsAreIgnored) {
  Peers peers(io_, config());
  ASSERT_TRUE(peers.start());

  int completions = 0;
  auto count = [&](const boost::system::error_code& ec) {
    EXPECT_FALSE(ec);
    ++completions;
  };
  peers.alice.send(to(peers.bob), "\r\n\r\n", count);
  peers.alice.send(to(peers.bob), "\r\n", count);
  peers.alice.send(to(peers.bob), "\r\n" + testing::options_request("ka"), count);
  ASSERT_TRUE(run_until(io_, [&] { return !peers.bob_user.messages.empty(); }));
  run_a_while(io_);
  EXPECT_EQ(completions, 3);
  ASSERT_EQ(peers.bob_user.messages.size(), 1U);
  EXPECT_EQ(peers.bob_user.messages.front().bytes, testing::options_request("ka"));
}

TEST_P(UdpLoopbackTest, OversizedDatagramReportsErrorThroughCompletion) {
  Recorder user;
  Transports alice(io_, user, config());
  ASSERT_FALSE(alice.start());
  std::optional<boost::system::error_code> sent;
  alice.send(to(alice), std::string(70000, 'x'),
             [&](const boost::system::error_code& ec) { sent = ec; });
  ASSERT_TRUE(run_until(io_, [&] { return sent.has_value(); }));
  EXPECT_EQ(*sent, asio::error::message_size) << sent->message();
}

TEST_P(UdpLoopbackTest, NoSocketForFamilyAndClosed) {
  Recorder user;
  Transports alice(io_, user, config());
  ASSERT_FALSE(alice.start());
  std::optional<boost::system::error_code> wrong_family;
  std::optional<boost::system::error_code> after_close;
  Destination other = to(alice);
  other.address = loopback(!GetParam());
  alice.send(other, "x", [&](const boost::system::error_code& ec) { wrong_family = ec; });
  alice.close();
  alice.send(to(alice), "x", [&](const boost::system::error_code& ec) { after_close = ec; });
  ASSERT_TRUE(run_until(io_, [&] { return wrong_family && after_close; }));
  EXPECT_EQ(*wrong_family, TransportError::kNoSocketForFamily);
  EXPECT_EQ(*after_close, TransportError::kClosed);
}

TEST_P(UdpLoopbackTest, BurstsLargerThanABatchArriveWholeAndInOrder) {
  // 100 datagrams queued in one turn leave in two sendmmsg calls (64 a call) and are read in
  // four recvmmsg calls (32 a call): each is delivered once, in the order sent, and each send
  // completes once.
  Peers peers(io_, config());
  ASSERT_TRUE(peers.start());
  constexpr int kBurst = 100;  // well within a stock 208 KiB receive buffer
  int completions = 0;
  for (int i = 0; i < kBurst; ++i) {
    peers.alice.send(to(peers.bob), testing::options_request("burst" + std::to_string(i)),
                     [&](const boost::system::error_code& ec) {
                       EXPECT_FALSE(ec) << ec.message();
                       ++completions;
                     });
  }
  EXPECT_EQ(completions, 0) << "completions must not run inside send()";
  ASSERT_TRUE(run_until(io_, [&] { return peers.bob_user.messages.size() == kBurst; }));
  run_a_while(io_);
  EXPECT_EQ(completions, kBurst);
  ASSERT_EQ(peers.bob_user.messages.size(), static_cast<std::size_t>(kBurst));
  for (int i = 0; i < kBurst; ++i) {
    EXPECT_EQ(peers.bob_user.messages[static_cast<std::size_t>(i)].bytes,
              testing::options_request("burst" + std::to_string(i)));
  }
}

TEST_P(UdpLoopbackTest, OversizedDatagramDoesNotHoldBackTheOthersOfItsBatch) {
  Peers peers(io_, config());
  ASSERT_TRUE(peers.start());
  std::vector<boost::system::error_code> outcomes;
  auto record = [&](const boost::system::error_code& ec) { outcomes.push_back(ec); };
  peers.alice.send(to(peers.bob), testing::options_request("before"), record);
  peers.alice.send(to(peers.bob), std::string(70000, 'x'), record);
  peers.alice.send(to(peers.bob), testing::options_request("after"), record);
  ASSERT_TRUE(
      run_until(io_, [&] { return outcomes.size() == 3 && peers.bob_user.messages.size() == 2; }));
  EXPECT_FALSE(outcomes[0]);
  EXPECT_EQ(outcomes[1], asio::error::message_size) << outcomes[1].message();
  EXPECT_FALSE(outcomes[2]);
  EXPECT_EQ(peers.bob_user.messages[0].bytes, testing::options_request("before"));
  EXPECT_EQ(peers.bob_user.messages[1].bytes, testing::options_request("after"));
}

TEST_P(UdpLoopbackTest, CloseSendsWhatIsQueued) {
  // A shard that answers and then closes (at shutdown) still gets its last answers out.
  Peers peers(io_, config());
  ASSERT_TRUE(peers.start());
  std::optional<boost::system::error_code> sent;
  peers.alice.send(to(peers.bob), testing::options_request("last"),
                   [&](const boost::system::error_code& ec) { sent = ec; });
  peers.alice.close();
  EXPECT_FALSE(sent.has_value()) << "completions must not run inside close()";
  ASSERT_TRUE(run_until(io_, [&] { return sent.has_value() && !peers.bob_user.messages.empty(); }));
  EXPECT_FALSE(*sent) << sent->message();
  EXPECT_EQ(peers.bob_user.messages.front().bytes, testing::options_request("last"));
}

// A second server on the same address would silently take a share of the datagrams: it gets
// EADDRINUSE instead, for UDP and TCP alike.
TEST_P(UdpLoopbackTest, ASecondListenerOnThePortIsRefused) {
  Recorder user;
  TransportsConfig both = config();
  both.listen.push_back({Protocol::kTcp, both.listen[0].address, 0});
  Transports first(io_, user, both);
  ASSERT_FALSE(first.start());
  for (Protocol protocol : {Protocol::kUdp, Protocol::kTcp}) {
    TransportsConfig same = config();
    same.listen[0].protocol = protocol;
    same.listen[0].port = *first.local_port(protocol);
    Transports second(io_, user, same);
    EXPECT_EQ(second.start(), boost::asio::error::address_in_use) << to_string(protocol);
  }
}

INSTANTIATE_TEST_SUITE_P(Loopback, UdpLoopbackTest, ::testing::Values(false, true),
                         testing::family_name);

}  // namespace
}  // namespace herald::sip::transport
