#include "services/proxy/proxy.h"

#include <gtest/gtest.h>

#include <boost/asio/ip/address.hpp>
#include <deque>
#include <string>
#include <vector>

#include "services/core/server_core.h"
#include "sip/txn/clock.h"
#include "sip/txn/timer_service.h"
#include "services/recording_network.h"
#include "support/sip_text.h"

// The proxy with the real server core, transaction layer, timer service and location
// service, on a manual clock; the network is a recorder (the integration tests drive the
// real sockets).
namespace herald::services::proxy {
namespace {

using sip::HeaderId;
using sip::Message;
using sip::transport::Destination;
using sip::transport::Protocol;
using sip::transport::Source;
using std::chrono::milliseconds;
using std::chrono::seconds;

using test::header_text;
using test::parse_lf;
using test::SentRequest;

Source caller() {
  Source s;
  s.protocol = Protocol::kUdp;
  s.remote_address = boost::asio::ip::make_address("192.0.2.1");
  s.remote_port = 5060;
  s.local_address = boost::asio::ip::make_address("192.0.2.100");
  s.local_port = 5060;
  return s;
}

Source callee(int n) {
  Source s = caller();
  s.remote_address = boost::asio::ip::make_address("192.0.2." + std::to_string(10 + n));
  return s;
}

std::string request_text(std::string_view method, std::string_view uri = "sip:bob@example.com",
                         std::string_view extra = "", std::string_view branch = "z9hG4bKcaller1") {
  std::string text(method);
  text += " " + std::string(uri) + " SIP/2.0\n";
  text += "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=" + std::string(branch) + "\n";
  text += "Max-Forwards: 70\n";
  text += "To: Bob <sip:bob@example.com>\n";
  text += "From: Alice <sip:alice@example.com>;tag=1928301774\n";
  text += "Call-ID: a84b4c76e66710@pc33.example.com\n";
  text += "CSeq: 314159 " + std::string(method) + "\n";
  text += extra;
  text += "Content-Length: 0\n\n";
  return text;
}

// A response from a callee to a request Herald forwarded.
Message answer(const Message& request, int code, std::string_view to_tag = "callee") {
  Message r = sip::make_response(request, code, sip::default_reason(code), code > 100 ? to_tag : "");
  return r;
}

constexpr std::string_view kSecret = "proxy-test-secret";
constexpr std::string_view kCallId = "a84b4c76e66710@pc33.example.com";
constexpr std::string_view kFromTag = "1928301774";

// Herald's Record-Route value for the dialog of request_text()'s Call-ID, as a later request
// in it carries it back in its Route.
std::string herald_route(std::string_view tag = kFromTag) {
  return "<sip:192.0.2.100:5060;lr;dlg=" + DialogTokens(kSecret).make(kCallId, tag) + ">";
}

class ProxyTest : public ::testing::Test {
 protected:
  explicit ProxyTest(ProxyConfig config = {}) {
    config.domains = {"example.com"};
    config.dialog_secret = kSecret;
    proxy_ = std::make_unique<Proxy>(config, layer_, timers_, location_, net_, [this](const std::string& aor) {
      return aor == "sip:carol@example.com" || !location_.lookup(aor).empty();
    }, sip::transport::HostsFile::parse("192.0.2.50 gateway.example.net\n"));
    core_.attach(layer_);
    net_.layer = &layer_;
    core_.serve_proxy(*proxy_);
  }

  void bind(std::string_view contact, int q = -1, std::vector<std::string> path = {}, std::string received = {}) {
    store::Binding b;
    b.aor = "sip:bob@example.com";
    b.contact = contact;
    b.call_id = "reg";
    b.cseq = 1;
    b.expires_at = now_ + 3600;
    b.q = q;
    b.path = std::move(path);
    b.received = std::move(received);
    ASSERT_TRUE(location_.put(b).ok());
  }

  void receive(const Message& m, const Source& from = caller()) {
    layer_.receive(m, from);
    timers_.run_due();
  }
  void advance(milliseconds d) {
    clock_.advance(d);
    timers_.run_due();
  }
  // Final responses sent upstream (100 Trying and other provisionals skipped).
  std::vector<int> finals() const {
    std::vector<int> out;
    for (const Message& m : net_.responses) {
      if (m.status_code() >= 200) out.push_back(m.status_code());
    }
    return out;
  }
  std::vector<SentRequest> sent(std::string_view method) const {
    std::vector<SentRequest> out;
    for (const SentRequest& s : net_.requests) {
      if (s.message.method_name() == method) out.push_back(s);
    }
    return out;
  }

  std::int64_t now_ = 1'700'000'000;
  sip::txn::ManualClock clock_;
  sip::txn::TimerService timers_{clock_};
  test::RecordingNetwork net_;
  ServerCore core_{Capabilities{{"OPTIONS", "REGISTER", "ACK", "CANCEL"}, {}, {}, {}}, net_};
  sip::txn::TransactionLayer layer_{timers_, net_, core_, {}};
  registrar::LocationService location_{timers_, nullptr, [this] { return now_; }};
  std::unique_ptr<Proxy> proxy_;
};

TEST(LoopHash, DependsOnRequestUriTagsCallIdAndCSeqOnly) {
  Message a = parse_lf(request_text("INVITE"));
  Message b = parse_lf(request_text("INVITE", "sip:bob@example.com", "Subject: hi\n", "z9hG4bKother"));
  EXPECT_EQ(loop_hash(a), loop_hash(b));
  EXPECT_EQ(loop_hash(a).size(), 16u);
  EXPECT_NE(loop_hash(a), loop_hash(parse_lf(request_text("INVITE", "sip:bob@192.0.2.10"))));
}

TEST(BestResponse, SixHundredsWinThenTheLowestClass) {
  EXPECT_EQ(best_response({}), std::nullopt);
  EXPECT_EQ(best_response({486, 603, 302}), 1u);
  EXPECT_EQ(best_response({500, 486, 302}), 2u);
  EXPECT_EQ(best_response({404, 407, 480}), 1u);  // a challenge is preferred within 4xx
  EXPECT_EQ(best_response({503, 408}), 1u);
}

TEST_F(ProxyTest, UnknownUserIs404KnownUserWithoutBindingIs480) {
  receive(parse_lf(request_text("INVITE", "sip:nobody@example.com")));
  receive(parse_lf(request_text("MESSAGE", "sip:carol@example.com", "", "z9hG4bKcaller2")));
  EXPECT_EQ(finals(), (std::vector<int>{404, 480}));
  EXPECT_TRUE(net_.requests.empty());
}

TEST_F(ProxyTest, ForeignDomainIsRefusedWithoutRelay) {
  receive(parse_lf(request_text("MESSAGE", "sip:someone@192.0.2.77")));
  ASSERT_EQ(finals(), std::vector<int>{403});
  EXPECT_EQ(net_.responses.back().reason_phrase(), "Relaying denied");
}

TEST_F(ProxyTest, ForwardsToTheContactWithViaMaxForwardsAndRecordRoute) {
  bind("sip:bob@192.0.2.10:5062");
  receive(parse_lf(request_text("INVITE", "sip:bob@example.com", "X-Custom: kept\n")));
  auto invites = sent("INVITE");
  ASSERT_EQ(invites.size(), 1u);
  const Message& out = invites[0].message;
  EXPECT_EQ(out.request_uri_text(), "sip:bob@192.0.2.10:5062");
  EXPECT_EQ(invites[0].to.address.to_string(), "192.0.2.10");
  EXPECT_EQ(invites[0].to.port, 5062);
  EXPECT_EQ(header_text(out, HeaderId::kMaxForwards), "69");
  EXPECT_EQ(header_text(out, HeaderId::kRecordRoute), herald_route());
  EXPECT_EQ(out.find("X-Custom")->value, "kept");
  auto via = out.get<sip::hdr::Via>();
  EXPECT_EQ(via->host, "192.0.2.100");
  EXPECT_TRUE(via->branch()->ends_with(loop_hash(parse_lf(request_text("INVITE")))));
  EXPECT_EQ(out.count(HeaderId::kVia), 2u);

  // 180 and 200 go upstream without Herald's Via.
  receive(answer(out, 180), callee(0));
  receive(answer(out, 200), callee(0));
  ASSERT_GE(net_.responses.size(), 3u);  // 100 Trying (the server transaction's), 180, 200
  EXPECT_EQ(net_.responses[1].status_code(), 180);
  EXPECT_EQ(net_.responses[2].status_code(), 200);
  EXPECT_EQ(net_.responses[2].count(HeaderId::kVia), 1u);
  EXPECT_EQ(proxy_->pending(), 0u);
}

TEST_F(ProxyTest, MessageIsNotRecordRoutedAndFirst2xxWins) {
  bind("sip:bob@192.0.2.10");
  bind("sip:bob@192.0.2.11");
  receive(parse_lf(request_text("MESSAGE")));
  auto messages = sent("MESSAGE");
  ASSERT_EQ(messages.size(), 2u);  // equal q: parallel
  EXPECT_FALSE(messages[0].message.has(HeaderId::kRecordRoute));
  receive(answer(messages[1].message, 200, "b"), callee(1));
  receive(answer(messages[0].message, 200, "a"), callee(0));
  EXPECT_EQ(finals(), std::vector<int>{200});
  EXPECT_EQ(header_text(net_.responses.back(), HeaderId::kTo), "Bob <sip:bob@example.com>;tag=b");
}

TEST_F(ProxyTest, SequentialForkingByQ) {
  bind("sip:bob@192.0.2.10", 1000);
  bind("sip:bob@192.0.2.11", 500);
  receive(parse_lf(request_text("INVITE")));
  auto invites = sent("INVITE");
  ASSERT_EQ(invites.size(), 1u);
  EXPECT_EQ(invites[0].message.request_uri_text(), "sip:bob@192.0.2.10");
  receive(answer(invites[0].message, 486), callee(0));
  invites = sent("INVITE");
  ASSERT_EQ(invites.size(), 2u);
  EXPECT_EQ(invites[1].message.request_uri_text(), "sip:bob@192.0.2.11");
  receive(answer(invites[1].message, 480), callee(1));
  EXPECT_EQ(finals(), std::vector<int>{486});  // the same class: the first final wins
}

TEST_F(ProxyTest, SixHundredCancelsTheOtherBranches) {
  bind("sip:bob@192.0.2.10");
  bind("sip:bob@192.0.2.11");
  receive(parse_lf(request_text("INVITE")));
  auto invites = sent("INVITE");
  ASSERT_EQ(invites.size(), 2u);
  receive(answer(invites[0].message, 180, "a"), callee(0));
  receive(answer(invites[1].message, 603, "b"), callee(1));
  auto cancels = sent("CANCEL");
  ASSERT_EQ(cancels.size(), 1u);
  EXPECT_EQ(cancels[0].message.request_uri_text(), invites[0].message.request_uri_text());
  EXPECT_EQ(header_text(cancels[0].message, HeaderId::kVia), header_text(invites[0].message, HeaderId::kVia));
  receive(answer(cancels[0].message, 200, "a"), callee(0));
  receive(answer(invites[0].message, 487, "a"), callee(0));
  EXPECT_EQ(finals(), std::vector<int>{603});
}

TEST_F(ProxyTest, CancelReachesEveryBranchAndTheCallerGets487) {
  bind("sip:bob@192.0.2.10");
  bind("sip:bob@192.0.2.11");
  Message invite = parse_lf(request_text("INVITE"));
  receive(invite);
  auto invites = sent("INVITE");
  ASSERT_EQ(invites.size(), 2u);
  receive(answer(invites[0].message, 180, "a"), callee(0));
  receive(answer(invites[1].message, 100), callee(1));
  std::string cancel_text = request_text("CANCEL");
  receive(parse_lf(cancel_text));
  EXPECT_EQ(sent("CANCEL").size(), 2u);
  EXPECT_EQ(finals(), std::vector<int>{200});  // the CANCEL's own answer
  receive(answer(invites[0].message, 487, "a"), callee(0));
  receive(answer(invites[1].message, 487, "b"), callee(1));
  EXPECT_EQ(finals(), (std::vector<int>{200, 487}));
}

TEST_F(ProxyTest, CancelBeforeAnyProvisionalWaitsForOne) {
  bind("sip:bob@192.0.2.10");
  receive(parse_lf(request_text("INVITE")));
  receive(parse_lf(request_text("CANCEL")));
  EXPECT_TRUE(sent("CANCEL").empty());  // §9.1
  auto invite = sent("INVITE")[0].message;
  receive(answer(invite, 180), callee(0));
  EXPECT_EQ(sent("CANCEL").size(), 1u);
}

// RFC 4320 §4.2: no 408 to a non-INVITE request. When no branch answered, the request gets no
// answer at all (the sender's own Timer F ends it) and its retransmissions are absorbed.
TEST_F(ProxyTest, ANonInviteNoBranchAnsweredGetsNoAnswerAtAll) {
  bind("sip:bob@192.0.2.10");
  bind("sip:bob@192.0.2.11");
  const Message options = parse_lf(request_text("OPTIONS"));
  receive(options);
  EXPECT_EQ(sent("OPTIONS").size(), 2u);
  advance(seconds(33));  // Timer F of both branches
  EXPECT_TRUE(finals().empty());
  EXPECT_EQ(proxy_->pending(), 0u);
  const std::size_t branches = net_.requests.size();
  receive(options);  // a late retransmission: absorbed, not forked again
  EXPECT_EQ(net_.requests.size(), branches);
  EXPECT_TRUE(finals().empty());
  EXPECT_EQ(layer_.server_transactions(), 1u);
  advance(seconds(33));  // Timer J
  EXPECT_EQ(layer_.server_transactions(), 0u);
}

// A branch's own 408 is passed over for another answer; an INVITE still gets its 408.
TEST_F(ProxyTest, ANonInviteGetsTheBestAnswerThatIsNot408) {
  bind("sip:bob@192.0.2.10");
  bind("sip:bob@192.0.2.11");
  receive(parse_lf(request_text("OPTIONS")));
  const auto options = sent("OPTIONS");
  receive(answer(options[0].message, 408), callee(0));
  receive(answer(options[1].message, 486), callee(1));
  EXPECT_EQ(finals(), std::vector<int>{486});

  net_.responses.clear();
  receive(parse_lf(request_text("INVITE", "sip:bob@example.com", "", "z9hG4bKinvite")));
  for (const auto& invite : sent("INVITE")) receive(answer(invite.message, 408), callee(0));
  EXPECT_EQ(finals(), std::vector<int>{408});
}

TEST_F(ProxyTest, TimerCCancelsAProceedingInvite) {
  bind("sip:bob@192.0.2.10");
  receive(parse_lf(request_text("INVITE")));
  auto invite = sent("INVITE")[0].message;
  receive(answer(invite, 180), callee(0));
  advance(seconds(180));
  EXPECT_TRUE(sent("CANCEL").empty());
  advance(seconds(2));  // 181 s after the 180
  EXPECT_EQ(sent("CANCEL").size(), 1u);
  advance(seconds(33));  // no answer to the CANCEL either: the branch counts as 408
  EXPECT_EQ(finals(), std::vector<int>{408});
  // Nothing is left behind: the INVITE's client transaction, in Proceeding, had no timer of
  // its own to end it.
  EXPECT_EQ(layer_.client_transactions(), 0u);
  receive(answer(invite, 200), callee(0));  // a late answer is stray, and goes upstream (a 2xx)
  EXPECT_EQ(layer_.client_transactions(), 0u);
}

TEST_F(ProxyTest, RouteToHeraldIsRemovedAndTheNextRouteFollowed) {
  Message bye = parse_lf(request_text("BYE", "sip:bob@192.0.2.10:5062",
                                   "Route: " + herald_route() + ", <sip:192.0.2.50;lr>\n"));
  receive(bye);
  auto byes = sent("BYE");
  ASSERT_EQ(byes.size(), 1u);
  EXPECT_EQ(byes[0].to.address.to_string(), "192.0.2.50");
  EXPECT_EQ(header_text(byes[0].message, HeaderId::kRoute), "<sip:192.0.2.50;lr>");
  EXPECT_EQ(byes[0].message.request_uri_text(), "sip:bob@192.0.2.10:5062");
}

TEST_F(ProxyTest, InDialogRequestViaHeraldReachesTheRemoteTargetEvenWithoutRelay) {
  receive(parse_lf(request_text("BYE", "sip:bob@192.0.2.10:5062", "Route: " + herald_route() + "\n")));
  auto byes = sent("BYE");
  ASSERT_EQ(byes.size(), 1u);
  EXPECT_EQ(byes[0].to.address.to_string(), "192.0.2.10");
  EXPECT_FALSE(byes[0].message.has(HeaderId::kRoute));
}

// The other side of the dialog: the creator's tag is its To tag.
TEST_F(ProxyTest, TheDialogTokenHoldsInBothDirections) {
  std::string text = request_text("BYE", "sip:alice@192.0.2.1", "Route: " + herald_route("callee-tag") + "\n");
  text.replace(text.find("To: Bob <sip:bob@example.com>"), 29, "To: Bob <sip:bob@example.com>;tag=callee-tag");
  receive(parse_lf(text));
  EXPECT_EQ(sent("BYE").size(), 1u);
}

// RFC 3261 §16.4: once the Route values naming Herald are removed, the request is judged as if
// it had come without them. Herald's auth is off here (no authenticator): nobody is an
// authenticated local user, so only the dialog token lets a request out to a foreign target.
TEST_F(ProxyTest, APreloadedRouteToHeraldDoesNotMakeARelay) {
  const std::string foreign = "sip:victim@192.0.2.77";
  struct Case {
    std::string name;
    std::string method;
    std::string uri;
    std::string extra;
  };
  const std::vector<Case> cases = {
      {"route to Herald, foreign Request-URI", "MESSAGE", foreign, "Route: <sip:192.0.2.100:5060;lr>\n"},
      {"route to Herald, foreign Request-URI (INVITE)", "INVITE", foreign, "Route: <sip:192.0.2.100:5060;lr>\n"},
      {"route to Herald by domain", "MESSAGE", foreign, "Route: <sip:example.com;lr>\n"},
      {"route to Herald then a foreign route", "MESSAGE", "sip:bob@example.com",
       "Route: <sip:192.0.2.100:5060;lr>, <sip:192.0.2.77;lr>\n"},
      {"a foreign route alone", "MESSAGE", "sip:bob@example.com", "Route: <sip:192.0.2.77;lr>\n"},
      {"strict routing: Herald in the Request-URI", "MESSAGE", "sip:192.0.2.100:5060",
       "Route: <" + foreign + ">\n"},
      {"in dialog, Route to Herald without its token", "BYE", foreign,
       "Route: <sip:192.0.2.100:5060;lr>\n"},
      {"in dialog, a forged token", "BYE", foreign,
       "Route: <sip:192.0.2.100:5060;lr;dlg=000000000000000000000000>\n"},
      {"in dialog, the token of another dialog", "BYE", foreign,
       "Route: " + herald_route("another-tag") + "\n"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    net_.requests.clear();
    net_.responses.clear();
    std::string text = request_text(c.method, c.uri, c.extra, "z9hG4bK" + std::to_string(&c - cases.data()));
    if (c.method == "BYE") {
      text.replace(text.find("To: Bob <sip:bob@example.com>"), 29, "To: Bob <sip:bob@example.com>;tag=b1");
    }
    receive(parse_lf(text));
    EXPECT_TRUE(sent(c.method).empty());
    ASSERT_EQ(finals(), std::vector<int>{403});
    EXPECT_EQ(net_.responses.back().reason_phrase(), "Relaying denied");
  }
}

TEST_F(ProxyTest, AStrictRouterCarryingTheTokenInTheRequestUriIsFollowed) {
  // The previous hop strict-routed: Herald's Record-Route value became the Request-URI and the
  // remote target went to the end of the Route set.
  const std::string rr = herald_route();
  std::string text = request_text("BYE", rr.substr(1, rr.size() - 2), "Route: <sip:bob@192.0.2.10:5062>\n");
  text.replace(text.find("To: Bob <sip:bob@example.com>"), 29, "To: Bob <sip:bob@example.com>;tag=b1");
  receive(parse_lf(text));
  auto byes = sent("BYE");
  ASSERT_EQ(byes.size(), 1u);
  EXPECT_EQ(byes[0].message.request_uri_text(), "sip:bob@192.0.2.10:5062");
  EXPECT_EQ(byes[0].to.address.to_string(), "192.0.2.10");
}

TEST_F(ProxyTest, AnAckWithoutTheTokenIsNotRelayed) {
  receive(parse_lf(request_text("ACK", "sip:victim@192.0.2.77", "Route: <sip:192.0.2.100:5060;lr>\n")));
  receive(parse_lf(request_text("ACK", "sip:bob@example.com", "Route: <sip:192.0.2.100:5060;lr>, <sip:192.0.2.77;lr>\n",
                                "z9hG4bKack2")));
  EXPECT_TRUE(net_.stateless.empty());
  EXPECT_TRUE(net_.responses.empty());  // an ACK is never answered
}

TEST_F(ProxyTest, ACancelMatchingNothingIsNotRelayed) {
  receive(parse_lf(request_text("CANCEL", "sip:victim@192.0.2.77", "Route: <sip:192.0.2.100:5060;lr>\n")));
  EXPECT_TRUE(sent("CANCEL").empty());
  EXPECT_EQ(finals(), std::vector<int>{481});
}

TEST_F(ProxyTest, RoutingOfSaysWhereARequestGoes) {
  auto routing = [&](std::string_view uri, std::string_view extra) {
    return proxy_->routing_of(parse_lf(request_text("MESSAGE", uri, extra)));
  };
  bind("sip:bob@192.0.2.10:5062");
  EXPECT_FALSE(routing("sip:bob@example.com", "").foreign);
  EXPECT_FALSE(routing("sip:bob@192.0.2.10:5062", "").foreign);  // a registered contact
  EXPECT_FALSE(routing("sip:192.0.2.100:5060", "").foreign);     // Herald itself
  EXPECT_TRUE(routing("sip:x@192.0.2.77", "").foreign);
  EXPECT_TRUE(routing("sip:bob@example.com", "Route: <sip:192.0.2.77;lr>\n").foreign);
  EXPECT_FALSE(routing("sip:x@192.0.2.77", "Route: <sip:192.0.2.100:5060;lr>\n").in_dialog);
  const Routing in_dialog = routing("sip:x@192.0.2.77", "Route: " + herald_route() + "\n");
  EXPECT_TRUE(in_dialog.foreign);
  EXPECT_TRUE(in_dialog.in_dialog);
}

TEST_F(ProxyTest, PathBecomesTheRouteSet) {
  bind("sip:bob@192.0.2.10", -1, {"sip:gateway.example.net;lr"});  // stored bare, as the registrar does
  receive(parse_lf(request_text("MESSAGE")));
  auto messages = sent("MESSAGE");
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(header_text(messages[0].message, HeaderId::kRoute), "<sip:gateway.example.net;lr>");
  EXPECT_EQ(messages[0].to.address.to_string(), "192.0.2.50");  // from the hosts file
}

TEST_F(ProxyTest, RequestToARegisteredContactUsesItsConnection) {
  net_.open_connection = true;
  bind("sip:bob@device.invalid;transport=tcp", -1, {}, "tcp:192.0.2.20:5070");
  receive(parse_lf(request_text("MESSAGE", "sip:bob@device.invalid")));
  auto messages = sent("MESSAGE");
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].to.protocol, Protocol::kTcp);
  EXPECT_EQ(messages[0].to.port, 5070);
  EXPECT_TRUE(header_text(messages[0].message, HeaderId::kVia).starts_with("SIP/2.0/TCP "));
}

TEST_F(ProxyTest, LargeMessageOverUdpIs513) {
  bind("sip:bob@192.0.2.10");
  std::string body(1400, 'x');
  std::string text = request_text("MESSAGE");
  text.replace(text.find("Content-Length: 0\n\n"), std::string::npos,
               "Content-Type: text/plain\nContent-Length: 1400\n\n" + body);
  receive(parse_lf(text));
  EXPECT_TRUE(sent("MESSAGE").empty());
  EXPECT_EQ(finals(), std::vector<int>{513});
}

TEST_F(ProxyTest, ALoopIs482) {
  bind("sip:bob@192.0.2.10");
  receive(parse_lf(request_text("MESSAGE")));
  Message out = sent("MESSAGE")[0].message;
  // The same request comes back (with its Request-URI restored by some misconfigured hop).
  out.set_request_uri("sip:bob@example.com");
  receive(out, callee(0));
  EXPECT_EQ(finals(), std::vector<int>{482});
}

TEST_F(ProxyTest, AckFor2xxIsForwardedAlongTheRoute) {
  receive(parse_lf(request_text("ACK", "sip:bob@192.0.2.10:5062", "Route: " + herald_route() + "\n")));
  ASSERT_EQ(net_.stateless.size(), 1u);
  EXPECT_EQ(net_.stateless[0].to.address.to_string(), "192.0.2.10");
  EXPECT_EQ(header_text(net_.stateless[0].message, HeaderId::kMaxForwards), "69");
  EXPECT_EQ(net_.stateless[0].message.count(HeaderId::kVia), 2u);
}

class RedirectTest : public ProxyTest {
 protected:
  static ProxyConfig redirect() {
    ProxyConfig c;
    c.mode = Mode::kRedirect;
    return c;
  }
  RedirectTest() : ProxyTest(redirect()) {}
};

TEST_F(RedirectTest, AnswersWithTheBindings) {
  bind("sip:bob@192.0.2.10", 500);
  bind("sip:bob@192.0.2.11");
  receive(parse_lf(request_text("INVITE")));
  EXPECT_TRUE(sent("INVITE").empty());
  ASSERT_EQ(finals(), std::vector<int>{302});
  auto contacts = net_.responses.back().get_all<sip::hdr::Contact>();
  ASSERT_TRUE(contacts.ok());
  ASSERT_EQ(contacts->size(), 2u);
  EXPECT_EQ((*contacts)[0].address.uri.text, "sip:bob@192.0.2.11");
  EXPECT_EQ((*contacts)[1].q(), 500u);
}

// ---- the server core's stateless answers (RFC 3261 §8.2.7)

TEST_F(ProxyTest, OptionsToTheServerIsAnsweredWithoutATransactionAndACopyGetsTheSameAnswer) {
  const Message options = parse_lf(request_text("OPTIONS", "sip:example.com"));
  receive(options);
  ASSERT_EQ(finals(), (std::vector<int>{200}));
  EXPECT_EQ(layer_.server_transactions(), 0u);  // nothing kept for Timer J
  receive(options);
  ASSERT_EQ(net_.responses.size(), 2u);
  // The same To tag (made from the request), so the same answer byte for byte.
  EXPECT_EQ(sip::serialize(net_.responses[0]), sip::serialize(net_.responses[1]));
  EXPECT_TRUE(net_.responses[0].get<sip::hdr::To>()->tag().has_value());
  // Another request gets another tag.
  receive(parse_lf(request_text("OPTIONS", "sip:192.0.2.100", "", "z9hG4bKcaller2")));
  ASSERT_EQ(net_.responses.size(), 3u);
  EXPECT_NE(net_.responses[2].get<sip::hdr::To>()->tag(), net_.responses[0].get<sip::hdr::To>()->tag());
  EXPECT_EQ(layer_.server_transactions(), 0u);
}

TEST_F(ProxyTest, OptionsForAUserOrInADialogKeepsItsTransaction) {
  bind("sip:bob@192.0.2.11");
  receive(parse_lf(request_text("OPTIONS")));  // for bob: proxied
  EXPECT_EQ(sent("OPTIONS").size(), 1u);
  EXPECT_EQ(layer_.server_transactions(), 1u);
  receive(parse_lf(request_text("OPTIONS", "sip:example.com", "", "z9hG4bKcaller2")));
  EXPECT_EQ(layer_.server_transactions(), 1u);  // to the server: none more
}

}  // namespace
}  // namespace herald::services::proxy
