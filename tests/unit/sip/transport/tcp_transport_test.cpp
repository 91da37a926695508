#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <vector>
#include <string>

#include "loopback.h"
#include "sip/transport/transport.h"

namespace herald::sip::transport {
namespace {

using testing::loopback;
using testing::RawClient;
using testing::Recorder;
using testing::run_a_while;
using testing::run_until;
namespace asio = boost::asio;
using asio::ip::tcp;

class TcpLoopbackTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override { HERALD_SKIP_WITHOUT_IPV6(GetParam()); }

  asio::ip::address address() const { return loopback(GetParam()); }
  TransportsConfig config(TcpOptions tcp = {}) const {
    return {{{Protocol::kTcp, address(), 0}}, tcp, {}};
  }
  tcp::endpoint endpoint_of(const Transports& t) const {
    return {address(), *t.local_port(Protocol::kTcp)};
  }
  Destination to(const Transports& t) const {
    return {Protocol::kTcp, address(), *t.local_port(Protocol::kTcp), std::nullopt};
  }

  asio::io_context io_;
};

TEST_P(TcpLoopbackTest, PipelinedMessagesSplitAcrossWrites) {
  Recorder user;
  Transports server(io_, user, config());
  ASSERT_FALSE(server.start());
  RawClient client(io_);
  ASSERT_FALSE(client.connect(endpoint_of(server)));

  const std::string a = testing::options_request("a");
  const std::string b = testing::message_request("hello, world");
  const std::string c = testing::options_request("c");
  const std::string stream = "\r\n" + a + b + c;
  client.write(stream.substr(0, 10));
  run_a_while(io_);
  client.write(stream.substr(10, a.size()));  // ends inside b's header block
  run_a_while(io_);
  client.write(stream.substr(10 + a.size(), b.size() - 3));  // ends inside b's body
  run_a_while(io_);
  client.write(stream.substr(10 + a.size() + b.size() - 3));  // rest of b, and c
  ASSERT_TRUE(run_until(io_, [&] { return user.messages.size() == 3; }));

  EXPECT_EQ(user.messages[0].bytes, a);
  EXPECT_EQ(user.messages[1].bytes, b);
  EXPECT_EQ(user.messages[2].bytes, c);
  const Source& source = user.messages[0].source;
  EXPECT_EQ(source.protocol, Protocol::kTcp);
  EXPECT_EQ(source.remote_address, address());
  EXPECT_EQ(source.remote_port, client.local_endpoint().port());
  EXPECT_EQ(source.local_port, *server.local_port(Protocol::kTcp));
  ASSERT_TRUE(source.connection.has_value());
  EXPECT_EQ(user.messages[2].source.connection, source.connection);
  EXPECT_EQ(server.tcp().connection_count(), 1U);
  EXPECT_EQ(server.tcp().find(client.local_endpoint()), source.connection);
}

TEST_P(TcpLoopbackTest, PingIsAnsweredWithPong) {
  Recorder user;
  Transports server(io_, user, config());
  ASSERT_FALSE(server.start());
  RawClient client(io_);
  ASSERT_FALSE(client.connect(endpoint_of(server)));
  client.write("\r\n\r\n");
  ASSERT_TRUE(run_until(io_, [&] { return !client.received.empty(); }));
  run_a_while(io_);
  EXPECT_EQ(client.received, "\r\n");
  EXPECT_TRUE(user.messages.empty());
  EXPECT_TRUE(user.closed.empty());
}

TEST_P(TcpLoopbackTest, OversizedHeaderIsAnsweredThenClosed) {
  Recorder user;
  TcpOptions options;
  options.connection.limits.max_header_bytes = 512;
  Transports server(io_, user, config(options));
  user.transports = &server;
  user.on_error_reply = "SIP/2.0 513 Message Too Large\r\nContent-Length: 0\r\n\r\n";
  ASSERT_FALSE(server.start());
  RawClient client(io_);
  ASSERT_FALSE(client.connect(endpoint_of(server)));

  client.write("OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP x;branch=z9hG4bK1\r\nX: " +
               std::string(2000, 'x'));
  ASSERT_TRUE(run_until(io_, [&] { return client.ended && !user.closed.empty(); }));
  ASSERT_EQ(user.errors.size(), 1U);
  EXPECT_EQ(user.errors[0], FrameError::kHeaderTooLarge);
  EXPECT_TRUE(user.error_headers[0].starts_with("OPTIONS sip:a@b SIP/2.0\r\nVia:"));
  EXPECT_EQ(client.received, user.on_error_reply);
  EXPECT_EQ(user.closed[0].why, TransportError::kStreamFraming);
  EXPECT_EQ(server.tcp().connection_count(), 0U);
}

TEST_P(TcpLoopbackTest, MissingContentLengthIsAStreamError) {
  Recorder user;
  Transports server(io_, user, config());
  user.transports = &server;
  user.on_error_reply = "SIP/2.0 400 Missing Content-Length\r\nContent-Length: 0\r\n\r\n";
  ASSERT_FALSE(server.start());
  RawClient client(io_);
  ASSERT_FALSE(client.connect(endpoint_of(server)));
  const std::string head = "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP x\r\n\r\n";
  client.write(head + testing::options_request("never-delivered"));
  ASSERT_TRUE(run_until(io_, [&] { return client.ended; }));
  ASSERT_EQ(user.errors.size(), 1U);
  EXPECT_EQ(user.errors[0], FrameError::kMissingContentLength);
  EXPECT_EQ(user.error_headers[0], head);
  EXPECT_EQ(client.received, user.on_error_reply);
  EXPECT_TRUE(user.messages.empty());
}

TEST_P(TcpLoopbackTest, SendToPeerReusesItsInboundConnection) {
  Recorder user;
  Transports server(io_, user, config());
  ASSERT_FALSE(server.start());
  RawClient client(io_);
  ASSERT_FALSE(client.connect(endpoint_of(server)));
  client.write(testing::options_request("reuse"));
  ASSERT_TRUE(run_until(io_, [&] { return user.messages.size() == 1; }));

  // Addressed by address:port only (no connection id): it must go on the client's connection.
  const Source& from = user.messages[0].source;
  const std::string response = "SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n";
  std::optional<boost::system::error_code> sent;
  server.send({Protocol::kTcp, from.remote_address, from.remote_port, std::nullopt}, response,
              [&](const boost::system::error_code& ec) { sent = ec; });
  ASSERT_TRUE(run_until(io_, [&] { return client.received == response; }));
  ASSERT_TRUE(sent.has_value());
  EXPECT_FALSE(*sent);
  EXPECT_EQ(server.tcp().connection_count(), 1U);
}

TEST_P(TcpLoopbackTest, OutboundConnectionIsReusedBothWays) {
  Recorder alice_user;
  Recorder bob_user;
  Transports alice(io_, alice_user, config());
  Transports bob(io_, bob_user, config());
  ASSERT_FALSE(alice.start());
  ASSERT_FALSE(bob.start());

  int completions = 0;
  auto ok = [&](const boost::system::error_code& ec) {
    EXPECT_FALSE(ec) << ec.message();
    ++completions;
  };
  // Both queued before the connect completes; the second must not open another connection.
  alice.send(to(bob), testing::options_request("one"), ok);
  alice.send(to(bob), testing::options_request("two"), ok);
  ASSERT_TRUE(run_until(io_, [&] { return bob_user.messages.size() == 2; }));
  alice.send(to(bob), testing::options_request("three"), ok);
  ASSERT_TRUE(run_until(io_, [&] { return bob_user.messages.size() == 3; }));
  EXPECT_EQ(completions, 3);
  EXPECT_EQ(bob_user.messages[0].bytes, testing::options_request("one"));
  EXPECT_EQ(bob_user.messages[2].bytes, testing::options_request("three"));
  EXPECT_EQ(alice.tcp().connection_count(), 1U);
  EXPECT_EQ(bob.tcp().connection_count(), 1U);
  EXPECT_EQ(bob_user.messages[0].source.connection, bob_user.messages[2].source.connection);

  // Bob answers on the connection the request came on; Alice sees it on her outbound connection.
  const std::string response = "SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n";
  bob.send(Destination::reply_to(bob_user.messages[0].source), response);
  ASSERT_TRUE(run_until(io_, [&] { return alice_user.messages.size() == 1; }));
  EXPECT_EQ(alice_user.messages[0].bytes, response);
  EXPECT_EQ(alice_user.messages[0].source.connection, alice.tcp().find(endpoint_of(bob)));
  EXPECT_EQ(alice.tcp().connection_count(), 1U);
  EXPECT_EQ(bob.tcp().connection_count(), 1U);
}

TEST_P(TcpLoopbackTest, StaleConnectionIdFallsBackToAddress) {
  Recorder alice_user;
  Recorder bob_user;
  Transports alice(io_, alice_user, config());
  Transports bob(io_, bob_user, config());
  ASSERT_FALSE(alice.start());
  ASSERT_FALSE(bob.start());
  Destination dest = to(bob);
  dest.connection = ConnectionId{~std::uint64_t{0}};  // never issued
  alice.send(dest, testing::options_request("fallback"));
  ASSERT_TRUE(run_until(io_, [&] { return bob_user.messages.size() == 1; }));
}

TEST_P(TcpLoopbackTest, IdleConnectionIsClosed) {
  Recorder user;
  TcpOptions options;
  options.connection.idle_timeout = std::chrono::milliseconds(100);
  Transports server(io_, user, config(options));
  ASSERT_FALSE(server.start());
  RawClient client(io_);
  ASSERT_FALSE(client.connect(endpoint_of(server)));
  client.write(testing::options_request("idle"));
  ASSERT_TRUE(run_until(io_, [&] { return !user.closed.empty() && client.ended; }));
  EXPECT_EQ(user.messages.size(), 1U);
  EXPECT_EQ(user.closed[0].why, asio::error::timed_out);
  EXPECT_EQ(user.closed[0].source.connection, user.messages[0].source.connection);
  EXPECT_EQ(server.tcp().connection_count(), 0U);
}

TEST_P(TcpLoopbackTest, ConnectFailureIsReportedThroughCompletion) {
  // A port that was free a moment ago and has no listener now.
  tcp::acceptor probe(io_, {address(), 0});
  const auto closed_port = probe.local_endpoint().port();
  probe.close();

  Recorder user;
  Transports alice(io_, user, config());
  ASSERT_FALSE(alice.start());
  std::optional<boost::system::error_code> first;
  std::optional<boost::system::error_code> second;
  const Destination dest{Protocol::kTcp, address(), closed_port, std::nullopt};
  alice.send(dest, testing::options_request("x"), [&](const auto& ec) { first = ec; });
  alice.send(dest, testing::options_request("y"), [&](const auto& ec) { second = ec; });
  ASSERT_TRUE(run_until(io_, [&] { return first && second; }));
  EXPECT_EQ(*first, asio::error::connection_refused) << first->message();
  EXPECT_EQ(*second, asio::error::connection_refused) << second->message();
  ASSERT_EQ(user.closed.size(), 1U);
  EXPECT_EQ(alice.tcp().connection_count(), 0U);
}

TEST_P(TcpLoopbackTest, ConnectionsBeyondTheLimitAreRefused) {
  Recorder user;
  TcpOptions options;
  options.max_connections = 1;
  Transports server(io_, user, config(options));
  ASSERT_FALSE(server.start());
  RawClient first(io_);
  ASSERT_FALSE(first.connect(endpoint_of(server)));
  first.write(testing::options_request("first"));
  ASSERT_TRUE(run_until(io_, [&] { return user.messages.size() == 1; }));
  server.confirm(*user.messages[0].source.connection);  // a valid message: it keeps its place
  RawClient second(io_);
  ASSERT_FALSE(second.connect(endpoint_of(server)));
  ASSERT_TRUE(run_until(io_, [&] { return second.ended; }));
  EXPECT_FALSE(first.ended);
  EXPECT_EQ(server.tcp().connection_count(), 1U);

  std::optional<boost::system::error_code> outbound;
  server.send({Protocol::kTcp, address(), 9, std::nullopt}, "x",
              [&](const auto& ec) { outbound = ec; });
  ASSERT_TRUE(run_until(io_, [&] { return outbound.has_value(); }));
  EXPECT_EQ(*outbound, TransportError::kConnectionLimit);
}

TEST_P(TcpLoopbackTest, PeerCloseIsReportedAndIdsAreNotReused) {
  Recorder user;
  Transports server(io_, user, config());
  ASSERT_FALSE(server.start());
  RawClient first(io_);
  ASSERT_FALSE(first.connect(endpoint_of(server)));
  first.write(testing::options_request("1"));
  ASSERT_TRUE(run_until(io_, [&] { return user.messages.size() == 1; }));
  first.close();
  ASSERT_TRUE(run_until(io_, [&] { return user.closed.size() == 1; }));
  EXPECT_EQ(user.closed[0].why, asio::error::eof);
  const auto old_id = *user.messages[0].source.connection;
  EXPECT_FALSE(server.tcp().connection(old_id).has_value());

  RawClient second(io_);
  ASSERT_FALSE(second.connect(endpoint_of(server)));
  second.write(testing::options_request("2"));
  ASSERT_TRUE(run_until(io_, [&] { return user.messages.size() == 2; }));
  EXPECT_NE(*user.messages[1].source.connection, old_id);
}

TEST_P(TcpLoopbackTest, NoCallbacksAfterClose) {
  Recorder user;
  Transports server(io_, user, config());
  ASSERT_FALSE(server.start());
  RawClient client(io_);
  ASSERT_FALSE(client.connect(endpoint_of(server)));
  client.write(testing::options_request("1"));
  ASSERT_TRUE(run_until(io_, [&] { return user.messages.size() == 1; }));
  server.close();
  client.write(testing::options_request("2"));
  ASSERT_TRUE(run_until(io_, [&] { return client.ended; }));
  EXPECT_EQ(user.messages.size(), 1U);
  EXPECT_TRUE(user.closed.empty());
}

// A peer that sends a byte now and then (slowloris) is closed message_timeout after its
// message began, however often it sends.
TEST_P(TcpLoopbackTest, AMessageThatDoesNotArriveWholeInTimeClosesTheConnection) {
  Recorder user;
  TcpOptions options;
  options.connection.message_timeout = std::chrono::milliseconds(300);
  Transports server(io_, user, config(options));
  ASSERT_FALSE(server.start());
  RawClient client(io_);
  ASSERT_FALSE(client.connect(endpoint_of(server)));
  client.write(testing::options_request("whole"));  // a whole message is fine
  ASSERT_TRUE(run_until(io_, [&] { return user.messages.size() == 1; }));
  server.confirm(*user.messages[0].source.connection);
  const std::string slow = testing::options_request("slow");
  const auto began = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < slow.size() && !client.ended; ++i) {
    client.write(slow.substr(i, 1));
    io_.run_for(std::chrono::milliseconds(40));
  }
  ASSERT_TRUE(run_until(io_, [&] { return client.ended && !user.closed.empty(); }));
  EXPECT_LT(std::chrono::steady_clock::now() - began, std::chrono::seconds(2));
  EXPECT_EQ(user.messages.size(), 1U);
  EXPECT_EQ(user.closed[0].why, TransportError::kSlowMessage);
}

// An accepted connection that carries no valid message (the user never confirms it) is closed
// after unconfirmed_timeout, long before idle_timeout; a confirmed one stays.
TEST_P(TcpLoopbackTest, AConnectionWithoutAValidMessageIsClosedSoon) {
  Recorder user;
  TcpOptions options;
  options.connection.unconfirmed_timeout = std::chrono::milliseconds(200);
  Transports server(io_, user, config(options));
  ASSERT_FALSE(server.start());
  RawClient silent(io_);
  ASSERT_FALSE(silent.connect(endpoint_of(server)));
  RawClient good(io_);
  ASSERT_FALSE(good.connect(endpoint_of(server)));
  good.write(testing::options_request("good"));
  ASSERT_TRUE(run_until(io_, [&] { return user.messages.size() == 1; }));
  server.confirm(*user.messages[0].source.connection);
  ASSERT_TRUE(run_until(io_, [&] { return silent.ended; }));
  ASSERT_EQ(user.closed.size(), 1U);
  EXPECT_EQ(user.closed[0].why, TransportError::kNoValidMessage);
  run_a_while(io_);
  EXPECT_FALSE(good.ended);
  EXPECT_EQ(server.tcp().connection_count(), 1U);
}

// One source holds at most max_connections_per_source; others are still accepted.
TEST_P(TcpLoopbackTest, OneSourceCannotTakeEveryConnection) {
  if (GetParam()) GTEST_SKIP() << "needs a second loopback address";
  Recorder user;
  TcpOptions options;
  options.max_connections_per_source = 3;
  Transports server(io_, user, config(options));
  ASSERT_FALSE(server.start());
  std::vector<std::unique_ptr<RawClient>> flood;
  for (int i = 0; i < 5; ++i) {
    flood.push_back(std::make_unique<RawClient>(io_));
    ASSERT_FALSE(flood.back()->connect(endpoint_of(server)));
  }
  ASSERT_TRUE(run_until(io_, [&] { return flood[3]->ended && flood[4]->ended; }));
  run_a_while(io_);
  EXPECT_FALSE(flood[0]->ended);
  EXPECT_EQ(server.tcp().connection_count(), 3U);
  EXPECT_EQ(server.tcp().counters().refused_source_limit, 2U);
  RawClient other(io_);
  ASSERT_FALSE(other.connect(endpoint_of(server), asio::ip::make_address("127.0.0.2")));
  other.write(testing::options_request("other"));
  ASSERT_TRUE(run_until(io_, [&] { return user.messages.size() == 1; }));
  EXPECT_EQ(user.messages[0].source.remote_address.to_string(), "127.0.0.2");
  // Closing one frees a place for its source.
  flood[0]->close();
  ASSERT_TRUE(run_until(io_, [&] { return user.closed.size() == 1; }));
  RawClient again(io_);
  ASSERT_FALSE(again.connect(endpoint_of(server)));
  run_a_while(io_);
  EXPECT_FALSE(again.ended);
}

// At the global limit, a newcomer takes the place of the oldest connection from another source
// that has sent nothing valid; confirmed connections keep theirs.
TEST_P(TcpLoopbackTest, AtTheLimitANewcomerEvictsTheOldestUnconfirmedConnection) {
  if (GetParam()) GTEST_SKIP() << "needs a second loopback address";
  Recorder user;
  TcpOptions options;
  options.max_connections = 3;
  Transports server(io_, user, config(options));
  ASSERT_FALSE(server.start());
  RawClient confirmed(io_);
  ASSERT_FALSE(confirmed.connect(endpoint_of(server), asio::ip::make_address("127.0.0.3")));
  confirmed.write(testing::options_request("valid"));
  ASSERT_TRUE(run_until(io_, [&] { return user.messages.size() == 1; }));
  server.confirm(*user.messages[0].source.connection);
  RawClient idle1(io_);
  ASSERT_FALSE(idle1.connect(endpoint_of(server)));
  RawClient idle2(io_);
  ASSERT_FALSE(idle2.connect(endpoint_of(server)));
  ASSERT_TRUE(run_until(io_, [&] { return server.tcp().connection_count() == 3; }));
  RawClient newcomer(io_);
  ASSERT_FALSE(newcomer.connect(endpoint_of(server), asio::ip::make_address("127.0.0.2")));
  ASSERT_TRUE(run_until(io_, [&] { return idle1.ended; }));
  newcomer.write(testing::options_request("new"));
  ASSERT_TRUE(run_until(io_, [&] { return user.messages.size() == 2; }));
  EXPECT_FALSE(confirmed.ended);
  EXPECT_FALSE(idle2.ended);
  EXPECT_EQ(server.tcp().counters().evicted, 1U);
  EXPECT_EQ(server.tcp().connection_count(), 3U);
}

INSTANTIATE_TEST_SUITE_P(Loopback, TcpLoopbackTest, ::testing::Values(false, true),
                         testing::family_name);

}  // namespace
}  // namespace herald::sip::transport
