// The user agent and its parts against a peer on a real loopback UDP socket, played by the
// test: what the UA sends is read off the wire, and the peer's answers are written as a
// server would.
#include "client/user_agent.h"

#include <gtest/gtest.h>

#include <boost/asio/ip/udp.hpp>
#include <chrono>
#include <map>
#include <optional>
#include <string>

#include "client/messaging.h"
#include "client/publication.h"
#include "client/registration.h"
#include "client/subscription.h"
#include "services/auth/authenticator.h"
#include "sip/msg/headers.h"

namespace herald::client {
namespace {

using boost::asio::ip::udp;
using namespace std::chrono_literals;
using sip::HeaderId;
using sip::Message;

constexpr const char* kAor = "sip:alice@example.com";

// The server side, one datagram at a time.
class Peer {
 public:
  explicit Peer(boost::asio::io_context& io) : io_(io), socket_(io, udp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0)) {
    socket_.non_blocking(true);
  }
  std::uint16_t port() const { return socket_.local_endpoint().port(); }

  // The next message the UA sends, running the UA's loop meanwhile; nullopt after `wait`.
  std::optional<Message> receive(std::chrono::milliseconds wait = 5000ms) {
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (std::chrono::steady_clock::now() < deadline) {
      io_.restart();
      io_.run_for(5ms);
      if (socket_.available() == 0) continue;
      std::string buffer(65535, '\0');
      boost::system::error_code ec;
      const std::size_t n = socket_.receive_from(boost::asio::buffer(buffer), from_, 0, ec);
      if (ec) continue;
      buffer.resize(n);
      auto parsed = sip::parse_message(std::move(buffer));
      if (parsed.ok()) return std::move(parsed).value();
    }
    return std::nullopt;
  }

  // A request the UA sends, of `method` (responses and other methods are skipped).
  Message expect(std::string_view method) {
    for (int i = 0; i < 20; ++i) {
      auto m = receive();
      if (!m) break;
      if (m->is_request() && m->method_name() == method) return *m;
    }
    ADD_FAILURE() << "no " << method << " arrived";
    return Message();
  }

  void send(const std::string& text) {
    socket_.send_to(boost::asio::buffer(text), from_);
    run(20ms);
  }
  void answer(const Message& request, int code, std::string_view reason,
              const std::vector<std::pair<HeaderId, std::string>>& extra = {}, std::string_view to_tag = "srv") {
    Message response = sip::make_response(request, code, reason, code >= 200 && code < 700 ? to_tag : "");
    for (const auto& [h, v] : extra) response.append(h, v);
    send(sip::serialize(response));
  }
  void run(std::chrono::milliseconds d) {
    io_.restart();
    io_.run_for(d);
  }
  // The UA's address, as the source of its last datagram.
  std::string ua_address() const { return from_.address().to_string() + ":" + std::to_string(from_.port()); }

 private:
  boost::asio::io_context& io_;
  udp::socket socket_;
  udp::endpoint from_;
};

std::string header(const Message& m, HeaderId id) {
  const sip::HeaderField* f = m.find(id);
  return f == nullptr ? std::string() : std::string(f->value);
}

std::uint32_t cseq_of(const Message& m) { return m.get<sip::hdr::CSeq>()->number; }
std::string branch_of(const Message& m) { return std::string(*m.get<sip::hdr::Via>()->branch()); }

class UserAgentTest : public ::testing::Test {
 protected:
  UserAgentConfig config(std::optional<std::string> password = "secret") {
    UserAgentConfig c;
    c.server_address = boost::asio::ip::make_address("127.0.0.1");
    c.server_port = peer_.port();
    c.aor = kAor;
    c.username = "alice";
    c.password = [this, password] {
      ++password_asked_;
      return password;
    };
    c.timeout = 2000ms;
    return c;
  }
  std::unique_ptr<UserAgent> make_ua(std::optional<std::string> password = "secret",
                                     std::chrono::milliseconds timeout = 2000ms) {
    UserAgentConfig c = config(std::move(password));
    c.timeout = timeout;
    auto ua = std::make_unique<UserAgent>(io_, c);
    EXPECT_FALSE(ua->start());
    return ua;
  }

  // A request from the peer to the UA (to its UDP contact).
  std::string to_ua(std::string_view method, std::string_view extra, std::string_view body = "") {
    return std::string(method) + " sip:alice@" + peer_.ua_address() + " SIP/2.0\r\n" +
           "Via: SIP/2.0/UDP 127.0.0.1:" + std::to_string(peer_.port()) + ";branch=z9hG4bK" + std::to_string(++n_) +
           "\r\nMax-Forwards: 70\r\n" + std::string(extra) + "Content-Length: " + std::to_string(body.size()) +
           "\r\n\r\n" + std::string(body);
  }

  boost::asio::io_context io_;
  Peer peer_{io_};
  int password_asked_ = 0;
  int n_ = 0;

  std::int64_t now_ = 1'700'000'000;
  services::auth::Clock clock_ = [this] { return now_; };
  services::auth::NonceFactory factory_{std::string(32, 'k'), clock_};
  services::auth::NonceCounts counts_{clock_};
  services::auth::Authenticator auth_{
      factory_, counts_, [](std::string_view user, std::string_view realm) -> std::optional<services::auth::Credentials> {
        if (user != "alice") return std::nullopt;
        return services::auth::Credentials{services::auth::ha1(services::auth::Algorithm::kMd5, user, realm, "secret"),
                                           services::auth::ha1(services::auth::Algorithm::kSha256, user, realm, "secret")};
      }};
};

TEST_F(UserAgentTest, AChallengeIsAnsweredOnceAndTheNextRequestReusesTheNonce) {
  auto ua = make_ua();
  std::optional<Outcome> result;
  send_message(*ua, "sip:bob@example.com", "text/plain", "hello", [&](const Outcome& o) { result = o; });
  Message first = peer_.expect("MESSAGE");
  EXPECT_FALSE(first.has(HeaderId::kProxyAuthorization));
  EXPECT_EQ(first.body(), "hello");
  EXPECT_EQ(header(first, HeaderId::kContentType), "text/plain");
  Message challenge = sip::make_response(first, 407, "Proxy Authentication Required", "");
  auth_.add_challenge(challenge, "example.com", false, true);
  peer_.send(sip::serialize(challenge));

  Message second = peer_.expect("MESSAGE");
  EXPECT_EQ(cseq_of(second), cseq_of(first) + 1);
  EXPECT_EQ(header(second, HeaderId::kCallId), header(first, HeaderId::kCallId));
  EXPECT_NE(branch_of(second), branch_of(first));
  auto verdict = auth_.verify(second, "example.com", true);
  EXPECT_TRUE(verdict.ok()) << verdict.reason;
  EXPECT_EQ(verdict.algorithm, services::auth::Algorithm::kSha256);
  EXPECT_EQ(second.body(), "hello");
  peer_.answer(second, 202, "Accepted");
  ASSERT_TRUE(result.has_value());
  EXPECT_TRUE(result->ok());
  EXPECT_EQ(result->status(), 202);
  EXPECT_EQ(result->cseq, cseq_of(second));
  EXPECT_EQ(password_asked_, 1);

  // The next request carries credentials at once, with the next nonce count.
  result.reset();
  send_message(*ua, "sip:bob@example.com", "text/plain", "again", [&](const Outcome& o) { result = o; });
  Message third = peer_.expect("MESSAGE");
  EXPECT_TRUE(auth_.verify(third, "example.com", true).ok());
  EXPECT_EQ(sip::parse_auth(header(third, HeaderId::kProxyAuthorization))->param("nc"), "00000002");
  peer_.answer(third, 200, "OK");
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->status(), 200);
  EXPECT_EQ(password_asked_, 1);
}

TEST_F(UserAgentTest, ASecondChallengeIsAnAuthenticationFailure) {
  auto ua = make_ua("wrong");
  std::optional<Outcome> result;
  send_message(*ua, "sip:bob@example.com", "text/plain", "x", [&](const Outcome& o) { result = o; });
  for (int i = 0; i < 2; ++i) {
    Message m = peer_.expect("MESSAGE");
    Message challenge = sip::make_response(m, 407, "Proxy Authentication Required", "");
    auth_.add_challenge(challenge, "example.com", false, true);
    peer_.send(sip::serialize(challenge));
  }
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->status(), 407);
  EXPECT_TRUE(result->auth_failed);
  EXPECT_FALSE(result->no_password);
  EXPECT_FALSE(peer_.receive(300ms).has_value());  // no third try
}

TEST_F(UserAgentTest, WithoutAPasswordAChallengeEndsTheRequest) {
  auto ua = make_ua(std::nullopt);
  std::optional<Outcome> result;
  Leg leg = ua->new_leg(kAor);
  ua->send(ua->new_request("REGISTER", leg), [&](const Outcome& o) { result = o; });
  Message m = peer_.expect("REGISTER");
  Message challenge = sip::make_response(m, 401, "Unauthorized", "");
  auth_.add_challenge(challenge, "example.com", false, false);
  peer_.send(sip::serialize(challenge));
  ASSERT_TRUE(result.has_value());
  EXPECT_TRUE(result->auth_failed);
  EXPECT_TRUE(result->no_password);
}

TEST_F(UserAgentTest, NoAnswerWithinTheTimeoutIsATimeout) {
  auto ua = make_ua("secret", 300ms);
  std::optional<Outcome> result;
  send_message(*ua, "sip:bob@example.com", "text/plain", "x", [&](const Outcome& o) { result = o; });
  peer_.expect("MESSAGE");
  peer_.run(500ms);
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->kind, Outcome::Kind::kTimeout);
  EXPECT_EQ(result->status(), 0);
}

TEST_F(UserAgentTest, RequestsNobodyTakesGetTheUsualAnswers) {
  auto ua = make_ua();
  // Let the UA send once so the peer knows its address.
  send_message(*ua, "sip:bob@example.com", "text/plain", "x", {});
  Message m = peer_.expect("MESSAGE");
  peer_.answer(m, 200, "OK");
  const std::string common = "From: <sip:bob@example.com>;tag=b1\r\nTo: <sip:alice@example.com>\r\nCall-ID: c1\r\n";
  peer_.send(to_ua("OPTIONS", common + "CSeq: 1 OPTIONS\r\n"));
  auto r = peer_.receive();
  ASSERT_TRUE(r && r->is_response());
  EXPECT_EQ(r->status_code(), 200);
  EXPECT_NE(header(*r, HeaderId::kAllow).find("MESSAGE"), std::string::npos);
  peer_.send(to_ua("NOTIFY", common + "CSeq: 2 NOTIFY\r\nEvent: presence\r\nSubscription-State: active\r\n"));
  r = peer_.receive();
  ASSERT_TRUE(r && r->is_response());
  EXPECT_EQ(r->status_code(), 481);
  peer_.send(to_ua("INFO", common + "CSeq: 3 INFO\r\n"));
  r = peer_.receive();
  ASSERT_TRUE(r && r->is_response());
  EXPECT_EQ(r->status_code(), 405);
  EXPECT_TRUE(r->has(HeaderId::kAllow));
}

TEST_F(UserAgentTest, AnInboxAnswersAndReportsEachMessage) {
  auto ua = make_ua();
  std::vector<IncomingMessage> got;
  Inbox inbox(*ua, [&](const IncomingMessage& m) { got.push_back(m); });
  send_message(*ua, "sip:bob@example.com", "text/plain", "x", {});
  peer_.answer(peer_.expect("MESSAGE"), 200, "OK");
  peer_.send(to_ua("MESSAGE",
                   "From: \"Bob\" <sip:bob@example.com>;tag=b1\r\nTo: <sip:alice@example.com>\r\nCall-ID: m1\r\n"
                   "CSeq: 1 MESSAGE\r\nDate: Sat, 21 Nov 2026 09:00:00 GMT\r\nContent-Type: text/plain\r\n",
                   "Are you there?"));
  auto r = peer_.receive();
  ASSERT_TRUE(r && r->is_response());
  EXPECT_EQ(r->status_code(), 200);
  ASSERT_EQ(got.size(), 1U);
  EXPECT_EQ(got[0].from, "sip:bob@example.com");
  EXPECT_EQ(got[0].to, "sip:alice@example.com");
  EXPECT_EQ(got[0].text, "Are you there?");
  EXPECT_EQ(got[0].date, "Sat, 21 Nov 2026 09:00:00 GMT");
  EXPECT_EQ(format_message_line("T", got[0]), "T sip:bob@example.com: Are you there?");
  got[0].content_type = "image/png";
  EXPECT_EQ(format_message_line("T", got[0]), "T sip:bob@example.com: [image/png, 14 bytes]");
}

TEST_F(UserAgentTest, RegistrationFollowsMinExpiresReadsTheGrantAndUnregisters) {
  auto ua = make_ua();
  Registration registration(*ua, 30);
  std::optional<Outcome> result;
  registration.start([&](const Outcome& o) { result = o; });
  Message first = peer_.expect("REGISTER");
  EXPECT_EQ(first.request_uri_text(), "sip:example.com");
  EXPECT_EQ(header(first, HeaderId::kExpires), "30");
  EXPECT_EQ(header(first, HeaderId::kContact), "<" + ua->contact_uri() + ">");
  peer_.answer(first, 423, "Interval Too Brief", {{HeaderId::kMinExpires, "60"}});
  Message second = peer_.expect("REGISTER");
  EXPECT_EQ(header(second, HeaderId::kExpires), "60");
  EXPECT_EQ(cseq_of(second), cseq_of(first) + 1);
  peer_.answer(second, 200, "OK",
               {{HeaderId::kContact, "<sip:other@192.0.2.1>;expires=999"},
                {HeaderId::kContact, "<" + ua->contact_uri() + ">;expires=50"}});
  ASSERT_TRUE(result && result->ok());
  EXPECT_TRUE(registration.registered());
  EXPECT_EQ(registration.granted(), 50U);

  result.reset();
  registration.stop([&](const Outcome& o) { result = o; });
  Message last = peer_.expect("REGISTER");
  EXPECT_EQ(header(last, HeaderId::kExpires), "0");
  EXPECT_EQ(header(last, HeaderId::kCallId), header(first, HeaderId::kCallId));
  EXPECT_GT(cseq_of(last), cseq_of(second));
  peer_.answer(last, 200, "OK");
  ASSERT_TRUE(result && result->ok());
  EXPECT_FALSE(registration.registered());
}

TEST_F(UserAgentTest, ARegistrationIsRefreshedBeforeItExpires) {
  auto ua = make_ua();
  Registration registration(*ua, 2);
  registration.start({});
  Message first = peer_.expect("REGISTER");
  peer_.answer(first, 200, "OK", {{HeaderId::kExpires, "2"}});
  // Refreshed half way through its 2 s.
  const auto sent = std::chrono::steady_clock::now();
  Message refresh = peer_.expect("REGISTER");
  EXPECT_LT(std::chrono::steady_clock::now() - sent, 1900ms);
  EXPECT_EQ(header(refresh, HeaderId::kCallId), header(first, HeaderId::kCallId));
  EXPECT_EQ(cseq_of(refresh), cseq_of(first) + 1);
}

TEST(RefreshDelayTest, EarlyEnoughForRetransmissions) {
  EXPECT_EQ(refresh_delay(3600), std::chrono::seconds(3568));
  EXPECT_EQ(refresh_delay(64), std::chrono::seconds(32));
  EXPECT_EQ(refresh_delay(60), std::chrono::seconds(30));
  EXPECT_EQ(refresh_delay(1), std::chrono::seconds(1));
  EXPECT_EQ(refresh_delay(0), std::chrono::seconds(1));
}

TEST_F(UserAgentTest, APublicationKeepsItsEntityTagAndStartsAgainAfter412) {
  auto ua = make_ua();
  Publication publication(*ua, "presence", 3600);
  std::optional<Outcome> result;
  publication.publish("application/pidf+xml", "<doc1/>", [&](const Outcome& o) { result = o; });
  Message initial = peer_.expect("PUBLISH");
  EXPECT_EQ(initial.request_uri_text(), kAor);
  EXPECT_EQ(header(initial, HeaderId::kEvent), "presence");
  EXPECT_FALSE(initial.has(HeaderId::kSipIfMatch));
  EXPECT_EQ(initial.body(), "<doc1/>");
  peer_.answer(initial, 200, "OK", {{HeaderId::kSipETag, "e1"}, {HeaderId::kExpires, "1800"}});
  ASSERT_TRUE(result && result->ok());
  EXPECT_EQ(publication.etag(), "e1");
  EXPECT_EQ(publication.granted(), 1800U);

  result.reset();
  publication.publish("application/pidf+xml", "<doc2/>", [&](const Outcome& o) { result = o; });
  Message modify = peer_.expect("PUBLISH");
  EXPECT_EQ(header(modify, HeaderId::kSipIfMatch), "e1");
  EXPECT_EQ(modify.body(), "<doc2/>");
  peer_.answer(modify, 412, "Conditional Request Failed");
  Message again = peer_.expect("PUBLISH");  // the server forgot e1: initial again, same body
  EXPECT_FALSE(again.has(HeaderId::kSipIfMatch));
  EXPECT_EQ(again.body(), "<doc2/>");
  peer_.answer(again, 200, "OK", {{HeaderId::kSipETag, "e2"}, {HeaderId::kExpires, "1800"}});
  ASSERT_TRUE(result && result->ok());
  EXPECT_EQ(publication.etag(), "e2");

  result.reset();
  publication.remove([&](const Outcome& o) { result = o; });
  Message removal = peer_.expect("PUBLISH");
  EXPECT_EQ(header(removal, HeaderId::kSipIfMatch), "e2");
  EXPECT_EQ(header(removal, HeaderId::kExpires), "0");
  EXPECT_TRUE(removal.body().empty());
  peer_.answer(removal, 200, "OK", {{HeaderId::kSipETag, "e3"}, {HeaderId::kExpires, "0"}});
  ASSERT_TRUE(result && result->ok());
  EXPECT_FALSE(publication.published());
}

class SubscriptionTest : public UserAgentTest {
 protected:
  // The NOTIFY of the dialog `subscribe` created, from the peer.
  std::string notify(const Message& subscribe, std::string_view state, std::uint32_t cseq, std::string_view body = "") {
    auto from = subscribe.get<sip::hdr::From>();
    std::string extra = "From: <sip:bob@example.com>;tag=srv\r\nTo: <sip:alice@example.com>;tag=" +
                        std::string(*from->tag()) + "\r\nCall-ID: " + header(subscribe, HeaderId::kCallId) +
                        "\r\nCSeq: " + std::to_string(cseq) +
                        " NOTIFY\r\nContact: <sip:127.0.0.1:" + std::to_string(peer_.port()) +
                        ">\r\nEvent: presence\r\nSubscription-State: " + std::string(state) + "\r\n";
    if (!body.empty()) extra += "Content-Type: application/pidf+xml\r\n";
    return to_ua("NOTIFY", extra, body);
  }
};

TEST_F(SubscriptionTest, ANotifyBeforeThe200EstablishesTheDialogAndDeactivatedSubscribesAgain) {
  auto ua = make_ua();
  Subscription sub(*ua, "sip:bob@example.com", "presence", {"application/pidf+xml"}, 600);
  std::vector<Notification> seen;
  sub.set_on_notify([&](const Notification& n) { seen.push_back(n); });
  std::optional<Outcome> result;
  sub.start([&](const Outcome& o) { result = o; });
  Message subscribe = peer_.expect("SUBSCRIBE");
  EXPECT_EQ(header(subscribe, HeaderId::kEvent), "presence");
  EXPECT_EQ(header(subscribe, HeaderId::kAccept), "application/pidf+xml");
  EXPECT_EQ(header(subscribe, HeaderId::kExpires), "600");
  EXPECT_TRUE(subscribe.has(HeaderId::kContact));

  peer_.send(notify(subscribe, "active;expires=600", 1, "<presence/>"));
  auto ok = peer_.receive();
  ASSERT_TRUE(ok && ok->is_response());
  EXPECT_EQ(ok->status_code(), 200);
  ASSERT_EQ(seen.size(), 1U);
  EXPECT_EQ(seen[0].state, "active");
  EXPECT_EQ(seen[0].expires, 600U);
  EXPECT_EQ(seen[0].body, "<presence/>");
  EXPECT_TRUE(sub.established());
  peer_.answer(subscribe, 200, "OK", {{HeaderId::kExpires, "600"}}, "srv");
  ASSERT_TRUE(result && result->ok());

  // The notifier ends it (deactivated): a new subscription, in a new dialog.
  peer_.send(notify(subscribe, "terminated;reason=deactivated", 2));
  Message again = peer_.expect("SUBSCRIBE");
  EXPECT_NE(header(again, HeaderId::kCallId), header(subscribe, HeaderId::kCallId));
  EXPECT_EQ(header(again, HeaderId::kTo).find("tag="), std::string::npos);
  EXPECT_FALSE(sub.ended());
  ASSERT_EQ(seen.size(), 2U);
  EXPECT_EQ(seen[1].reason, "deactivated");
}

TEST_F(SubscriptionTest, RejectedEndsItAndStopSendsExpiresZeroInTheDialog) {
  auto ua = make_ua();
  {
    Subscription sub(*ua, "sip:bob@example.com", "presence", {"application/pidf+xml"}, 600);
    sub.start({});
    Message subscribe = peer_.expect("SUBSCRIBE");
    peer_.answer(subscribe, 200, "OK", {{HeaderId::kExpires, "600"}, {HeaderId::kContact, "<sip:127.0.0.1:1>"}}, "srv");
    peer_.send(notify(subscribe, "terminated;reason=rejected", 1));
    ASSERT_TRUE(peer_.receive().has_value());  // the 200
    EXPECT_TRUE(sub.ended());
    EXPECT_FALSE(peer_.receive(300ms).has_value());  // no new SUBSCRIBE
  }
  Subscription sub(*ua, "sip:bob@example.com", "presence", {"application/pidf+xml"}, 600);
  sub.start({});
  Message subscribe = peer_.expect("SUBSCRIBE");
  peer_.answer(subscribe, 200, "OK", {{HeaderId::kExpires, "600"}, {HeaderId::kContact, "<sip:bob@127.0.0.1:9>"}},
               "srv");
  bool stopped = false;
  sub.stop([&] { stopped = true; });
  Message unsubscribe = peer_.expect("SUBSCRIBE");
  EXPECT_EQ(header(unsubscribe, HeaderId::kExpires), "0");
  EXPECT_EQ(unsubscribe.request_uri_text(), "sip:bob@127.0.0.1:9");  // the remote target
  EXPECT_NE(header(unsubscribe, HeaderId::kTo).find("tag=srv"), std::string::npos);
  EXPECT_EQ(cseq_of(unsubscribe), cseq_of(subscribe) + 1);
  peer_.answer(unsubscribe, 200, "OK", {}, "srv");
  EXPECT_FALSE(stopped);  // waits for the final NOTIFY
  peer_.send(notify(subscribe, "terminated;reason=timeout", 2));
  EXPECT_TRUE(stopped);
  EXPECT_TRUE(sub.ended());
}

}  // namespace
}  // namespace herald::client
