#include "services/presence/presence_agent.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/ip/address.hpp>
#include <algorithm>
#include <cctype>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <pugixml.hpp>

#include "services/recording_network.h"
#include "sip/txn/clock.h"
#include "sip/txn/timer_service.h"
#include "sip/txn/transaction_layer.h"
#include "store/store.h"
#include "support/sip_text.h"

// The presence agent with the real notifier, transaction layer, timer service (manual clock),
// location service and memory store; the network is a recorder. PUBLISH and SUBSCRIBE go in
// through the transaction layer, NOTIFYs come out of the recorder and are answered 200.
namespace herald::services::presence {
namespace {

using sip::HeaderId;
using sip::Message;
using sip::transport::Protocol;
using sip::transport::Source;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

using test::header_text;
using test::parse_lf;

constexpr std::string_view kBob = "sip:bob@example.com";

Source from(std::string_view address, std::uint16_t port = 5060) {
  Source s;
  s.protocol = Protocol::kUdp;
  s.remote_address = boost::asio::ip::make_address(address);
  s.remote_port = port;
  s.local_address = boost::asio::ip::make_address("192.0.2.100");
  s.local_port = 5060;
  return s;
}

// One line: parse_lf() would turn line ends in a body into CRLF behind Content-Length's back.
std::string pidf(std::string_view entity, std::string_view tuple_id, std::string_view basic,
                 std::string_view ns = kPidfNamespace) {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?><presence xmlns=\"" + std::string(ns) + "\" entity=\"" +
         std::string(entity) + "\"><tuple id=\"" + std::string(tuple_id) + "\"><status><basic>" +
         std::string(basic) + "</basic></status></tuple></presence>";
}

struct Publish {
  std::string uri = std::string(kBob);
  std::string from = std::string(kBob);
  std::string event = "presence";  // empty: no Event header
  std::string expires;             // empty: no Expires header
  std::string if_match;            // empty: no SIP-If-Match
  std::string content_type = "application/pidf+xml";
  std::string body;
};

struct Subscribe {
  std::string resource = std::string(kBob);
  std::string watcher = "sip:alice@example.com";
  std::string event = "presence";
  std::string expires = "3600";
  std::string accept;  // empty: no Accept
  std::string call_id;
  std::string to_tag;  // in an existing dialog
  int cseq = 1;
};

// Routes requests to the agent or the notifier of the fixture.
class Dispatcher final : public sip::txn::TransactionUser {
 public:
  std::function<void(sip::txn::ServerTransactionId, const Message&, const Source&)> handler;
  void on_request(sip::txn::ServerTransactionId id, const Message& request, const Source& source) override {
    handler(id, request, source);
  }
};

class PresenceAgentTest : public ::testing::Test {
 protected:
  PresenceAgentTest() {
    auto opened = store::open_store({"memory", {}, 0});
    EXPECT_TRUE(opened.ok());
    store_ = std::move(opened).value();
    for (const char* aor : {"sip:bob@example.com", "sip:alice@example.com"}) {
      EXPECT_TRUE(store_->add_user({aor, "example.com", std::string(32, '0'), std::string(64, '0')}).ok());
    }
    dispatcher_.handler = [this](sip::txn::ServerTransactionId id, const Message& request, const Source& source) {
      if (request.method() == sip::Method::kPublish) {
        agent_->handle_publish(id, request);
      } else if (request.method() == sip::Method::kSubscribe) {
        notifier_->handle_subscribe(id, request, source);
      } else {
        net_.respond(id, request, 405, "Method Not Allowed");
      }
    };
    net_.layer = &layer_;
    config_.policy = {Action::kAllow, Action::kConfirm};
    config_.rules_poll = std::chrono::milliseconds(1000);
    build();
  }
  ~PresenceAgentTest() override { teardown(); }

  // A shard's presence stack on store_; the store (and the clock) survive a restart().
  void build() {
    location_ = std::make_unique<registrar::LocationService>(timers_, store_.get(), [this] { return now_; });
    location_->load();
    notifier_ = std::make_unique<events::Notifier>(
        events::NotifierConfig{}, layer_, timers_, net_, sip::transport::HostsFile{}, nullptr, [this] { return now_; });
    agent_ = std::make_unique<PresenceAgent>(
        config_, *notifier_, *location_, store_.get(), store_.get(), timers_, [this] { return now_; },
        net_,
        [this](const std::string& aor) { return store_->find_user(aor).ok(); });
    agent_->start();
    notifier_->start();
    timers_.run_due();
  }
  // The notifier goes first: it holds the agent's packages.
  void teardown() {
    notifier_.reset();
    agent_.reset();
    location_.reset();
  }
  void restart() {
    teardown();
    build();
  }

  void advance(seconds d) {
    now_ += d.count();
    sip::txn::run_until(timers_, clock_, clock_.now() + d);
  }

  // Sends a PUBLISH; returns its final response.
  Message publish(const Publish& p) {
    const int n = ++requests_;
    std::string text = "PUBLISH " + p.uri + " SIP/2.0\n"
                       "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKpub" + std::to_string(n) + "\n"
                       "Max-Forwards: 70\n"
                       "To: <" + p.uri + ">\n"
                       "From: <" + p.from + ">;tag=p" + std::to_string(n) + "\n"
                       "Call-ID: pub-" + std::to_string(n) + "@192.0.2.10\n"
                       "CSeq: 1 PUBLISH\n";
    if (!p.event.empty()) text += "Event: " + p.event + "\n";
    if (!p.expires.empty()) text += "Expires: " + p.expires + "\n";
    if (!p.if_match.empty()) text += "SIP-If-Match: " + p.if_match + "\n";
    if (!p.body.empty()) text += "Content-Type: " + p.content_type + "\n";
    text += "Content-Length: " + std::to_string(p.body.size()) + "\n\n" + p.body;
    return deliver(parse_lf(text), from("192.0.2.10"));
  }
  Message publish_body(const std::string& body, const std::string& expires = "3600") {
    Publish p;
    p.body = body;
    p.expires = expires;
    return publish(p);
  }

  // Sends a SUBSCRIBE from the watcher's device at 192.0.2.20:5070; returns its final response.
  Message subscribe(const Subscribe& s) {
    const int n = ++requests_;
    const std::string call_id = s.call_id.empty() ? "sub" + std::to_string(n) : s.call_id;
    const std::string user = s.watcher.substr(4, s.watcher.find('@') - 4);
    std::string text = "SUBSCRIBE " + s.resource + " SIP/2.0\n"
                       "Via: SIP/2.0/UDP 192.0.2.20:5070;branch=z9hG4bKsub" + std::to_string(n) + "\n"
                       "Max-Forwards: 70\n"
                       "To: <" + s.resource + ">" + (s.to_tag.empty() ? "" : ";tag=" + s.to_tag) + "\n"
                       "From: \"" + user + "\" <" + s.watcher + ">;tag=w-" + call_id + "\n"
                       "Call-ID: " + call_id + "\n"
                       "CSeq: " + std::to_string(s.cseq) + " SUBSCRIBE\n"
                       "Contact: <sip:" + user + "@192.0.2.20:5070>\n"
                       "Event: " + s.event + "\n"
                       "Expires: " + s.expires + "\n";
    if (!s.accept.empty()) text += "Accept: " + s.accept + "\n";
    text += "Content-Length: 0\n\n";
    return deliver(parse_lf(text), from("192.0.2.20", 5070));
  }

  Message deliver(const Message& request, const Source& source) {
    const std::size_t before = net_.responses.size();
    layer_.receive(request, source);
    timers_.run_due();
    for (std::size_t i = net_.responses.size(); i > before; --i) {
      if (net_.responses[i - 1].status_code() >= 200) return net_.responses[i - 1];
    }
    ADD_FAILURE() << "no final response to " << request.method_name();
    return {};
  }

  // The NOTIFYs sent since the last call, each answered 200 (so the next one may go out).
  std::vector<Message> notifies() {
    std::vector<Message> out;
    while (seen_ < net_.requests.size()) {
      const Message n = net_.requests[seen_++].message;
      if (n.method() != sip::Method::kNotify) continue;
      out.push_back(n);
      layer_.receive(sip::make_response(n, 200, "OK"), from("192.0.2.20", 5070));
      timers_.run_due();
    }
    return out;
  }
  // The only NOTIFY sent since the last call.
  Message one_notify() {
    auto sent = notifies();
    EXPECT_EQ(sent.size(), 1u);
    return sent.empty() ? Message{} : sent.back();
  }

  std::vector<store::Publication> stored() { return store_->load_publications().value(); }
  void bind(const std::string& contact, std::int64_t lifetime = 3600) {
    store::Binding b;
    b.aor = std::string(kBob);
    b.contact = contact;
    b.expires_at = now_ + lifetime;
    ASSERT_TRUE(location_->put(b).ok());
    timers_.run_due();
  }

  std::int64_t now_ = 1'700'000'000;
  sip::txn::ManualClock clock_;
  sip::txn::TimerService timers_{clock_};
  test::RecordingNetwork net_;
  Dispatcher dispatcher_;
  sip::txn::TransactionLayer layer_{timers_, net_, dispatcher_, {}};
  std::unique_ptr<store::Store> store_;
  PresenceConfig config_;
  std::unique_ptr<registrar::LocationService> location_;
  std::unique_ptr<events::Notifier> notifier_;
  std::unique_ptr<PresenceAgent> agent_;
  int requests_ = 0;
  std::size_t seen_ = 0;
};

// The tuples of a NOTIFY's PIDF body: "id=basic".
std::vector<std::string> tuples_of(const Message& notify) {
  auto doc = parse_pidf(notify.body(), "");
  EXPECT_TRUE(doc.ok()) << doc.why() << "\n" << notify.body();
  std::vector<std::string> out;
  if (doc.ok()) {
    for (const Tuple& t : doc->tuples) out.push_back(t.id + "=" + t.basic);
  }
  return out;
}

std::vector<std::string> basics_of(const Message& notify) {
  auto doc = parse_pidf(notify.body(), "");
  EXPECT_TRUE(doc.ok()) << doc.why();
  std::vector<std::string> out;
  if (doc.ok()) {
    for (const Tuple& t : doc->tuples) out.push_back(t.basic);
  }
  return out;
}

// ---- PUBLISH answers

TEST_F(PresenceAgentTest, PublishRefusalsInTheHeadersOrder) {
  Publish p;
  p.event = "dialog";
  p.body = pidf(kBob, "t1", "open");
  Message r = publish(p);
  EXPECT_EQ(r.status_code(), 489);
  EXPECT_EQ(header_text(r, HeaderId::kAllowEvents), "presence");
  p.event.clear();
  EXPECT_EQ(publish(p).status_code(), 489);

  p = {};
  p.uri = "sip:nobody@example.com";
  p.from = p.uri;
  p.body = pidf(p.uri, "t1", "open");
  EXPECT_EQ(publish(p).status_code(), 404);

  p = {};
  p.from = "sip:alice@example.com";
  p.body = pidf(kBob, "t1", "open");
  r = publish(p);
  EXPECT_EQ(r.status_code(), 403);
  EXPECT_EQ(r.reason_phrase(), "Only the presentity may publish its state");

  p = {};
  p.expires = "30";
  p.if_match = "no-such-tag";  // the interval is checked first
  p.body = pidf(kBob, "t1", "open");
  r = publish(p);
  EXPECT_EQ(r.status_code(), 423);
  EXPECT_EQ(header_text(r, HeaderId::kMinExpires), "60");

  p.expires = "60";
  p.body.clear();  // the condition is checked before the body
  r = publish(p);
  EXPECT_EQ(r.status_code(), 412);
  EXPECT_EQ(r.reason_phrase(), "Conditional Request Failed");

  p = {};
  r = publish(p);
  EXPECT_EQ(r.status_code(), 400);
  EXPECT_EQ(r.reason_phrase(), "PUBLISH without SIP-If-Match needs a body");

  p.body = "open";
  p.content_type = "text/plain";
  r = publish(p);
  EXPECT_EQ(r.status_code(), 415);
  EXPECT_EQ(header_text(r, HeaderId::kAccept), "application/pidf+xml, application/cpim-pidf+xml");

  p.content_type = "application/pidf+xml";
  p.body = "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"sip:bob@example.com\"><tuple";
  r = publish(p);
  EXPECT_EQ(r.status_code(), 400);
  EXPECT_THAT(std::string(r.reason_phrase()), StartsWith("malformed XML"));

  p.body = pidf("sip:alice@example.com", "t1", "open");
  r = publish(p);
  EXPECT_EQ(r.status_code(), 400);
  EXPECT_EQ(r.reason_phrase(), "entity does not match the presentity");

  EXPECT_EQ(agent_->counters().publishes, 10u);
  EXPECT_EQ(agent_->counters().publications, 0u);
  EXPECT_THAT(stored(), IsEmpty());
}

TEST_F(PresenceAgentTest, EntityTagsAreDistinctAndCarry64RandomBits) {
  std::set<std::string> tags;
  std::set<std::string> random_parts;
  for (int i = 0; i < 200; ++i) {
    Message r = publish_body(pidf("sip:bob@example.com", "t" + std::to_string(i), "open"));
    ASSERT_EQ(r.status_code(), 200);
    const std::string tag = header_text(r, HeaderId::kSipETag);
    ASSERT_GT(tag.size(), 16u) << tag;  // 16 hex digits of random bits, then a counter
    EXPECT_TRUE(std::all_of(tag.begin(), tag.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); }));
    tags.insert(tag);
    random_parts.insert(tag.substr(0, 16));
  }
  EXPECT_EQ(tags.size(), 200u);
  EXPECT_EQ(random_parts.size(), 200u);  // not a counter alone: 200 draws of 64 bits never collide
}

TEST_F(PresenceAgentTest, ExpiresAboveTheMaximumIsShortenedAndAbsentIsTheDefault) {
  Message r = publish_body(pidf(kBob, "t1", "open"), "86400");
  ASSERT_EQ(r.status_code(), 200);
  EXPECT_EQ(header_text(r, HeaderId::kExpires), "3600");
  Publish p;
  p.body = pidf(kBob, "t2", "open");
  r = publish(p);
  ASSERT_EQ(r.status_code(), 200);
  EXPECT_EQ(header_text(r, HeaderId::kExpires), "3600");
  EXPECT_EQ(stored().size(), 2u);
  EXPECT_EQ(stored()[0].expires_at, now_ + 3600);
}

TEST_F(PresenceAgentTest, InitialRefreshModifyRemoveEachGetANewEntityTag) {
  ASSERT_EQ(subscribe({}).status_code(), 200);
  EXPECT_THAT(basics_of(one_notify()), ElementsAre("closed"));

  Message r = publish_body(pidf(kBob, "t1", "open"));
  ASSERT_EQ(r.status_code(), 200);
  const std::string e1 = header_text(r, HeaderId::kSipETag);
  EXPECT_FALSE(e1.empty());
  EXPECT_EQ(header_text(r, HeaderId::kExpires), "3600");
  EXPECT_THAT(tuples_of(one_notify()), ElementsAre("t1=open"));
  ASSERT_EQ(stored().size(), 1u);
  EXPECT_EQ(stored()[0].etag, e1);
  EXPECT_EQ(stored()[0].presentity, kBob);
  EXPECT_EQ(stored()[0].content_type, "application/pidf+xml");
  const std::int64_t sequence = stored()[0].sequence;

  // Refresh: new tag, no NOTIFY, the stored body kept under the new tag.
  Publish refresh;
  refresh.if_match = e1;
  refresh.expires = "1800";
  r = publish(refresh);
  ASSERT_EQ(r.status_code(), 200);
  const std::string e2 = header_text(r, HeaderId::kSipETag);
  EXPECT_NE(e2, e1);
  EXPECT_EQ(header_text(r, HeaderId::kExpires), "1800");
  EXPECT_THAT(notifies(), IsEmpty());
  ASSERT_EQ(stored().size(), 1u);
  EXPECT_EQ(stored()[0].etag, e2);
  EXPECT_EQ(stored()[0].expires_at, now_ + 1800);
  EXPECT_EQ(stored()[0].sequence, sequence);
  EXPECT_THAT(stored()[0].body, HasSubstr("t1"));

  // The used tag is refused.
  EXPECT_EQ(publish(refresh).status_code(), 412);

  // Modify.
  Publish modify;
  modify.if_match = e2;
  modify.body = pidf(kBob, "t1", "closed");
  r = publish(modify);
  ASSERT_EQ(r.status_code(), 200);
  const std::string e3 = header_text(r, HeaderId::kSipETag);
  EXPECT_NE(e3, e2);
  EXPECT_NE(e3, e1);
  EXPECT_THAT(tuples_of(one_notify()), ElementsAre("t1=closed"));
  ASSERT_EQ(stored().size(), 1u);
  EXPECT_EQ(stored()[0].etag, e3);
  EXPECT_THAT(stored()[0].body, HasSubstr("closed"));
  EXPECT_EQ(publish(modify).status_code(), 412);

  // Remove: 200 with Expires 0 (and a tag of its own); back to the registration state.
  bind("sip:bob@192.0.2.30");
  EXPECT_THAT(notifies(), IsEmpty());  // a publication hides the registrations
  Publish remove;
  remove.if_match = e3;
  remove.expires = "0";
  r = publish(remove);
  ASSERT_EQ(r.status_code(), 200);
  EXPECT_EQ(header_text(r, HeaderId::kExpires), "0");
  EXPECT_FALSE(header_text(r, HeaderId::kSipETag).empty());
  EXPECT_NE(header_text(r, HeaderId::kSipETag), e3);
  EXPECT_THAT(basics_of(one_notify()), ElementsAre("open"));
  EXPECT_THAT(stored(), IsEmpty());
  EXPECT_EQ(publish(remove).status_code(), 412);
  EXPECT_EQ(agent_->counters().publications, 0u);
}

TEST_F(PresenceAgentTest, AnInitialPublishWithExpiresZeroKeepsNothing) {
  ASSERT_EQ(subscribe({}).status_code(), 200);
  one_notify();
  const Message r = publish_body(pidf(kBob, "t1", "open"), "0");
  ASSERT_EQ(r.status_code(), 200);
  EXPECT_EQ(header_text(r, HeaderId::kExpires), "0");
  EXPECT_FALSE(header_text(r, HeaderId::kSipETag).empty());
  EXPECT_THAT(notifies(), IsEmpty());
  EXPECT_THAT(stored(), IsEmpty());
  EXPECT_EQ(agent_->counters().publications, 0u);
}

TEST_F(PresenceAgentTest, AnotherPresentitysTagIsRefused) {
  Message r = publish_body(pidf(kBob, "t1", "open"));
  ASSERT_EQ(r.status_code(), 200);
  Publish p;
  p.uri = p.from = "sip:alice@example.com";
  p.if_match = header_text(r, HeaderId::kSipETag);
  EXPECT_EQ(publish(p).status_code(), 412);
}

TEST_F(PresenceAgentTest, AnExpiredPublicationIsRemovedAndWatchersAreNotified) {
  ASSERT_EQ(publish_body(pidf(kBob, "t1", "open"), "120").status_code(), 200);
  ASSERT_EQ(subscribe({}).status_code(), 200);
  EXPECT_THAT(tuples_of(one_notify()), ElementsAre("t1=open"));
  EXPECT_EQ(agent_->counters().publications, 1u);

  advance(seconds(119));
  EXPECT_THAT(notifies(), IsEmpty());
  advance(seconds(1));
  EXPECT_THAT(basics_of(one_notify()), ElementsAre("closed"));
  EXPECT_THAT(stored(), IsEmpty());
  EXPECT_EQ(agent_->counters().expired, 1u);
  EXPECT_EQ(agent_->counters().publications, 0u);
}

TEST_F(PresenceAgentTest, TwoDevicesAreComposedIntoOneDocumentOldestFirst) {
  ASSERT_EQ(publish_body(pidf(kBob, "phone", "open")).status_code(), 200);
  ASSERT_EQ(publish_body(pidf(kBob, "desk", "closed")).status_code(), 200);
  ASSERT_EQ(subscribe({}).status_code(), 200);
  const Message n = one_notify();
  EXPECT_EQ(header_text(n, HeaderId::kContentType), "application/pidf+xml");
  EXPECT_THAT(tuples_of(n), ElementsAre("phone=open", "desk=closed"));
  EXPECT_EQ(agent_->counters().publications, 2u);

  // The same tuple id from both devices stays unique.
  ASSERT_EQ(publish_body(pidf(kBob, "phone", "closed")).status_code(), 200);
  EXPECT_THAT(tuples_of(one_notify()), ElementsAre("phone=open", "desk=closed", "phone-2=closed"));
}

TEST_F(PresenceAgentTest, AChangeIsComposedOnceForAllItsWatchers) {
  Subscribe s;
  for (int i = 0; i < 50; ++i) {
    s.watcher = "sip:w" + std::to_string(i) + "@example.com";
    ASSERT_EQ(subscribe(s).status_code(), 200);
  }
  EXPECT_EQ(notifies().size(), 50u);
  const std::uint64_t before = agent_->counters().compositions;
  ASSERT_EQ(publish_body(pidf(kBob, "t1", "open")).status_code(), 200);
  const auto sent = notifies();
  ASSERT_EQ(sent.size(), 50u);
  for (const Message& n : sent) EXPECT_EQ(n.body(), sent.front().body());
  EXPECT_THAT(tuples_of(sent.front()), ElementsAre("t1=open"));
  EXPECT_EQ(agent_->counters().compositions, before + 1);
}

TEST_F(PresenceAgentTest, WithoutPublicationTheRegistrationsSayOpenOrClosed) {
  ASSERT_EQ(subscribe({}).status_code(), 200);
  EXPECT_THAT(basics_of(one_notify()), ElementsAre("closed"));

  bind("sip:bob@192.0.2.30");
  Message n = one_notify();
  auto doc = parse_pidf(n.body(), kBob);
  ASSERT_TRUE(doc.ok());
  ASSERT_EQ(doc->tuples.size(), 1u);
  EXPECT_EQ(doc->tuples[0].basic, "open");
  EXPECT_EQ(doc->tuples[0].contact, "sip:bob@192.0.2.30");

  bind("sip:bob@192.0.2.30");  // a refresh: the document does not change
  EXPECT_THAT(notifies(), IsEmpty());

  ASSERT_TRUE(location_->remove(kBob, "sip:bob@192.0.2.30").ok());
  timers_.run_due();
  EXPECT_THAT(basics_of(one_notify()), ElementsAre("closed"));
}

TEST_F(PresenceAgentTest, WithoutRegistrationStateNoPublicationIsClosed) {
  config_.registration_state = false;
  restart();
  ASSERT_EQ(subscribe({}).status_code(), 200);
  EXPECT_THAT(basics_of(one_notify()), ElementsAre("closed"));
  bind("sip:bob@192.0.2.30");
  EXPECT_THAT(notifies(), IsEmpty());
}

TEST_F(PresenceAgentTest, AcceptCpimPidfGetsTheCpimNamespace) {
  ASSERT_EQ(publish_body(pidf(kBob, "t1", "open")).status_code(), 200);
  Subscribe s;
  s.accept = "application/cpim-pidf+xml";
  ASSERT_EQ(subscribe(s).status_code(), 200);
  const Message n = one_notify();
  EXPECT_EQ(header_text(n, HeaderId::kContentType), "application/cpim-pidf+xml");
  EXPECT_THAT(std::string(n.body()), HasSubstr(std::string(kCpimPidfNamespace)));
  EXPECT_THAT(std::string(n.body()), Not(HasSubstr("\"urn:ietf:params:xml:ns:pidf\"")));
  EXPECT_THAT(tuples_of(n), ElementsAre("t1=open"));

  // A publication in the CPIM namespace reaches a PIDF watcher in PIDF.
  Subscribe plain;
  plain.watcher = "sip:frank@example.com";
  ASSERT_EQ(subscribe(plain).status_code(), 200);
  EXPECT_THAT(std::string(one_notify().body()), HasSubstr("\"urn:ietf:params:xml:ns:pidf\""));
}

TEST_F(PresenceAgentTest, UnknownPresentityIsRefused) {
  Subscribe s;
  s.resource = "sip:nobody@example.com";
  const Message r = subscribe(s);
  EXPECT_EQ(r.status_code(), 404);
  EXPECT_EQ(r.reason_phrase(), "User not found");
}

// hide_unknown_users: a SUBSCRIBE to nobody is answered as one to an offline user who set no
// rule: by the policy (here: alice is in bob's domain, allowed: active, closed).
TEST_F(PresenceAgentTest, HiddenUnknownPresentityLooksOffline) {
  teardown();
  config_.hide_unknown_users = true;
  build();
  Subscribe s;
  s.resource = "sip:nobody@example.com";
  EXPECT_EQ(subscribe(s).status_code(), 200);
  const Message unknown = one_notify();
  Subscribe known;  // bob exists and has no registration either
  EXPECT_EQ(subscribe(known).status_code(), 200);
  const Message offline = one_notify();
  EXPECT_EQ(header_text(unknown, HeaderId::kSubscriptionState), header_text(offline, HeaderId::kSubscriptionState));
  EXPECT_THAT(basics_of(unknown), ElementsAre("closed"));
  EXPECT_THAT(basics_of(offline), ElementsAre("closed"));
}

// ---- what one document may hold

TEST_F(PresenceAgentTest, ADocumentBeyondALimitIsRefusedWithTheLimitNamed) {
  teardown();
  config_.max_document_bytes = 600;
  config_.document_limits.max_depth = 8;
  config_.document_limits.max_elements = 12;
  build();
  std::string big = pidf(kBob, "t1", "open");
  big.insert(big.find("</tuple>"), "<note>" + std::string(600, 'x') + "</note>");
  Message r = publish_body(big);
  EXPECT_EQ(r.status_code(), 413);
  EXPECT_EQ(r.reason_phrase(), "Presence document larger than 600 bytes");

  std::string deep = pidf(kBob, "t1", "open");
  std::string chain;
  for (int i = 0; i < 6; ++i) chain = "<x:e xmlns:x=\"urn:x\">" + chain + "</x:e>";
  deep.insert(deep.find("</tuple>"), chain);  // presence, tuple, then 6 more: 8 deep, allowed
  EXPECT_EQ(publish_body(deep).status_code(), 200);
  chain = "<x:e xmlns:x=\"urn:x\">" + chain + "</x:e>";
  std::string deeper = pidf(kBob, "t1", "open");
  deeper.insert(deeper.find("</tuple>"), chain);
  r = publish_body(deeper);
  EXPECT_EQ(r.status_code(), 400);
  EXPECT_EQ(r.reason_phrase(), "Presence document nested deeper than 8 elements");

  std::string wide = pidf(kBob, "t1", "open");
  // presence, tuple, status, basic and 9 notes: 13 elements
  wide.insert(wide.find("</tuple>"), "<note>a</note><note>b</note><note>c</note><note>d</note><note>e</note>"
                                     "<note>f</note><note>g</note><note>h</note><note>i</note>");
  r = publish_body(wide);
  EXPECT_EQ(r.status_code(), 400);
  EXPECT_EQ(r.reason_phrase(), "Presence document has more than 12 elements");
  EXPECT_EQ(agent_->counters().publications, 1u);  // only the allowed one
}

TEST_F(PresenceAgentTest, PublicationsBeyondTheLimitReplaceTheOldest) {
  teardown();
  config_.max_publications = 3;
  build();
  for (const char* id : {"a", "b", "c", "d", "e"}) ASSERT_EQ(publish_body(pidf(kBob, id, "open")).status_code(), 200);
  EXPECT_EQ(agent_->counters().publications, 3u);
  EXPECT_EQ(stored().size(), 3u);
  ASSERT_EQ(subscribe({}).status_code(), 200);
  EXPECT_THAT(tuples_of(one_notify()), ElementsAre("c=open", "d=open", "e=open"));
}

// ---- authorization

TEST_F(PresenceAgentTest, AllowConfirmBlockAndPoliteBlock) {
  ASSERT_TRUE(store_->set_presence_rule({std::string(kBob), "sip:dave@other.org", "block"}).ok());
  ASSERT_TRUE(store_->set_presence_rule({std::string(kBob), "sip:erin@other.org", "polite-block"}).ok());
  restart();
  ASSERT_EQ(publish_body(pidf(kBob, "t1", "open")).status_code(), 200);

  Subscribe s;  // alice: same domain, allowed by policy
  ASSERT_EQ(subscribe(s).status_code(), 200);
  Message n = one_notify();
  EXPECT_THAT(header_text(n, HeaderId::kSubscriptionState), StartsWith("active"));
  EXPECT_THAT(tuples_of(n), ElementsAre("t1=open"));

  s.watcher = "sip:carol@other.org";  // another domain: confirm
  ASSERT_EQ(subscribe(s).status_code(), 200);
  n = one_notify();
  EXPECT_THAT(header_text(n, HeaderId::kSubscriptionState), StartsWith("pending"));
  EXPECT_TRUE(n.body().empty());

  s.watcher = "sip:dave@other.org";
  ASSERT_EQ(subscribe(s).status_code(), 200);  // RFC 6665 §4.2.1.1: accepted, then terminated
  n = one_notify();
  EXPECT_THAT(header_text(n, HeaderId::kSubscriptionState), StartsWith("terminated"));
  EXPECT_THAT(header_text(n, HeaderId::kSubscriptionState), HasSubstr("reason=rejected"));
  EXPECT_TRUE(n.body().empty());

  s.watcher = "sip:erin@other.org";
  ASSERT_EQ(subscribe(s).status_code(), 200);
  n = one_notify();
  EXPECT_THAT(header_text(n, HeaderId::kSubscriptionState), StartsWith("active"));
  EXPECT_THAT(basics_of(n), ElementsAre("closed"));

  // A politely blocked watcher's document does not follow the presentity.
  Publish modify;
  modify.body = pidf(kBob, "t2", "open");
  ASSERT_EQ(publish(modify).status_code(), 200);
  for (const Message& m : notifies()) {
    if (header_text(m, HeaderId::kTo).find("erin") != std::string::npos) {
      EXPECT_THAT(basics_of(m), ElementsAre("closed"));
    } else {
      EXPECT_THAT(header_text(m, HeaderId::kTo), HasSubstr("alice"));
      EXPECT_THAT(tuples_of(m), ElementsAre("t1=open", "t2=open"));
    }
  }
}

TEST_F(PresenceAgentTest, ARuleChangeAppliesToExistingSubscriptions) {
  ASSERT_EQ(publish_body(pidf(kBob, "t1", "open")).status_code(), 200);
  Subscribe s;
  s.watcher = "sip:carol@other.org";
  ASSERT_EQ(subscribe(s).status_code(), 200);
  EXPECT_THAT(header_text(one_notify(), HeaderId::kSubscriptionState), StartsWith("pending"));
  s.watcher = "sip:alice@example.com";
  ASSERT_EQ(subscribe(s).status_code(), 200);
  one_notify();
  s.watcher = "sip:frank@example.com";
  ASSERT_EQ(subscribe(s).status_code(), 200);
  one_notify();

  // pending → active, with the document.
  ASSERT_TRUE(store_->set_presence_rule({std::string(kBob), "sip:carol@other.org", "allow"}).ok());
  advance(seconds(1));
  EXPECT_EQ(agent_->counters().rule_reloads, 1u);
  Message n = one_notify();
  EXPECT_THAT(header_text(n, HeaderId::kTo), HasSubstr("carol"));
  EXPECT_THAT(header_text(n, HeaderId::kSubscriptionState), StartsWith("active"));
  EXPECT_THAT(tuples_of(n), ElementsAre("t1=open"));

  // active → terminated (rejected).
  ASSERT_TRUE(store_->set_presence_rule({std::string(kBob), "sip:alice@example.com", "block"}).ok());
  advance(seconds(1));
  n = one_notify();
  EXPECT_THAT(header_text(n, HeaderId::kTo), HasSubstr("alice"));
  EXPECT_THAT(header_text(n, HeaderId::kSubscriptionState), StartsWith("terminated"));
  EXPECT_THAT(header_text(n, HeaderId::kSubscriptionState), HasSubstr("reason=rejected"));
  EXPECT_TRUE(n.body().empty());

  // allow → polite-block: still active, now the closed document (the notifier sends the
  // state to every active watcher of the resource: carol gets hers again).
  ASSERT_TRUE(store_->set_presence_rule({std::string(kBob), "sip:frank@example.com", "polite-block"}).ok());
  advance(seconds(1));
  std::vector<std::string> seen;
  for (const Message& m : notifies()) {
    const std::string to = header_text(m, HeaderId::kTo);
    EXPECT_THAT(header_text(m, HeaderId::kSubscriptionState), StartsWith("active"));
    if (to.find("frank") != std::string::npos) {
      seen.push_back("frank");
      EXPECT_THAT(basics_of(m), ElementsAre("closed"));
    } else {
      seen.push_back(to.find("carol") != std::string::npos ? "carol" : to);
      EXPECT_THAT(tuples_of(m), ElementsAre("t1=open"));
    }
  }
  EXPECT_THAT(seen, ::testing::UnorderedElementsAre("carol", "frank"));

  // No change of the generation: nothing read again.
  advance(seconds(5));
  EXPECT_EQ(agent_->counters().rule_reloads, 3u);
  EXPECT_THAT(notifies(), IsEmpty());
}

// ---- presence.winfo

TEST_F(PresenceAgentTest, OnlyThePresentityMayWatchItsWatchers) {
  Subscribe w;
  w.event = "presence.winfo";
  Message r = subscribe(w);  // alice for bob's watchers
  EXPECT_EQ(r.status_code(), 403);
  EXPECT_EQ(r.reason_phrase(), "Only the presentity may watch its watchers");

  w.resource = w.watcher = "sip:ghost@example.com";
  EXPECT_EQ(subscribe(w).status_code(), 404);
}

struct WinfoWatcher {
  std::string uri;
  std::string id;
  std::string status;
  std::string event;
};

struct WinfoDocument {
  std::string version;
  std::vector<WinfoWatcher> watchers;
};

WinfoDocument winfo_of(const Message& notify) {
  EXPECT_EQ(header_text(notify, HeaderId::kContentType), "application/watcherinfo+xml");
  pugi::xml_document xml;
  const std::string body(notify.body());
  EXPECT_TRUE(xml.load_string(body.c_str())) << body;
  const auto root = xml.child("watcherinfo");
  const auto list = root.child("watcher-list");
  EXPECT_STREQ(list.attribute("resource").value(), "sip:bob@example.com");
  EXPECT_STREQ(list.attribute("package").value(), "presence");
  WinfoDocument doc{root.attribute("version").value(), {}};
  for (auto w : list.children("watcher")) {
    doc.watchers.push_back({w.child_value(), w.attribute("id").value(), w.attribute("status").value(),
                            w.attribute("event").value()});
  }
  return doc;
}

TEST_F(PresenceAgentTest, WatcherInfoListsPendingAndActiveWatchersAndOneTerminationOnce) {
  Subscribe w;
  w.event = "presence.winfo";
  w.watcher = std::string(kBob);
  ASSERT_EQ(subscribe(w).status_code(), 200);
  WinfoDocument doc = winfo_of(one_notify());
  EXPECT_EQ(doc.version, "0");
  EXPECT_THAT(doc.watchers, IsEmpty());

  Subscribe alice;
  alice.call_id = "alice-sub";
  ASSERT_EQ(subscribe(alice).status_code(), 200);
  Subscribe carol;
  carol.watcher = "sip:carol@other.org";
  ASSERT_EQ(subscribe(carol).status_code(), 200);

  std::vector<WinfoDocument> docs;
  for (const Message& n : notifies()) {
    if (header_text(n, HeaderId::kEvent) == "presence.winfo") docs.push_back(winfo_of(n));
  }
  ASSERT_FALSE(docs.empty());
  doc = docs.back();
  EXPECT_EQ(doc.version, std::to_string(docs.size()));
  ASSERT_EQ(doc.watchers.size(), 2u);
  EXPECT_EQ(doc.watchers[0].uri, "sip:alice@example.com");
  EXPECT_EQ(doc.watchers[0].status, "active");
  EXPECT_EQ(doc.watchers[0].event, "subscribe");  // active at once; "approved" is pending → active (RFC 3857)
  EXPECT_EQ(doc.watchers[1].uri, "sip:carol@other.org");
  EXPECT_EQ(doc.watchers[1].status, "pending");
  EXPECT_EQ(doc.watchers[1].event, "subscribe");
  EXPECT_NE(doc.watchers[0].id, doc.watchers[1].id);
  EXPECT_THAT(doc.watchers[0].id, Not(HasSubstr("alice-sub")));  // dialog identifiers stay private
  const std::string alice_id = doc.watchers[0].id;

  // Alice leaves: listed once as terminated, with the reason as event.
  std::string alice_tag;
  for (const Message& r : net_.responses) {
    if (header_text(r, HeaderId::kCallId) == "alice-sub" && r.status_code() == 200) {
      alice_tag = std::string(r.get<sip::hdr::To>()->tag().value_or(""));
    }
  }
  ASSERT_FALSE(alice_tag.empty());
  alice.to_tag = alice_tag;
  alice.cseq = 2;
  alice.expires = "0";
  ASSERT_EQ(subscribe(alice).status_code(), 200);
  docs.clear();
  for (const Message& n : notifies()) {
    if (header_text(n, HeaderId::kEvent) == "presence.winfo") docs.push_back(winfo_of(n));
  }
  ASSERT_FALSE(docs.empty());
  std::size_t terminated = 0;
  for (const WinfoDocument& d : docs) {
    for (const WinfoWatcher& watcher : d.watchers) {
      if (watcher.id != alice_id) continue;
      EXPECT_EQ(watcher.status, "terminated");
      EXPECT_EQ(watcher.event, "timeout");
      ++terminated;
    }
  }
  EXPECT_EQ(terminated, 1u);

  // The next document has forgotten her.
  Subscribe frank;
  frank.watcher = "sip:frank@example.com";
  ASSERT_EQ(subscribe(frank).status_code(), 200);
  docs.clear();
  for (const Message& n : notifies()) {
    if (header_text(n, HeaderId::kEvent) == "presence.winfo") docs.push_back(winfo_of(n));
  }
  ASSERT_FALSE(docs.empty());
  std::vector<std::string> uris;
  for (const WinfoWatcher& watcher : docs.back().watchers) uris.push_back(watcher.uri + " " + watcher.status);
  EXPECT_THAT(uris, ElementsAre("sip:carol@other.org pending", "sip:frank@example.com active"));
}

// ---- persistence

TEST_F(PresenceAgentTest, ARestartedAgentServesThePublicationsOfTheStore) {
  ASSERT_EQ(publish_body(pidf(kBob, "phone", "open"), "600").status_code(), 200);
  Message r = publish_body(pidf(kBob, "desk", "closed"), "60");
  ASSERT_EQ(r.status_code(), 200);
  const std::string desk = header_text(r, HeaderId::kSipETag);
  advance(seconds(30));

  restart();
  EXPECT_EQ(agent_->counters().publications, 2u);
  ASSERT_EQ(subscribe({}).status_code(), 200);
  EXPECT_THAT(tuples_of(one_notify()), ElementsAre("phone=open", "desk=closed"));

  // The loaded tags work, and the loaded expiries run on.
  Publish refresh;
  refresh.if_match = desk;
  refresh.expires = "60";
  ASSERT_EQ(publish(refresh).status_code(), 200);
  advance(seconds(60));
  EXPECT_THAT(tuples_of(one_notify()), ElementsAre("phone=open"));
  EXPECT_EQ(agent_->counters().expired, 1u);
  ASSERT_EQ(stored().size(), 1u);

  // Expired while the server was down: gone at start.
  advance(seconds(600));
  ASSERT_EQ(stored().size(), 0u);
  ASSERT_EQ(publish_body(pidf(kBob, "phone", "open"), "60").status_code(), 200);
  teardown();
  now_ += 120;
  clock_.advance(seconds(120));
  build();
  EXPECT_EQ(agent_->counters().publications, 0u);
  EXPECT_THAT(stored(), IsEmpty());
}

// A store that fails every write: the SIP answers stay the same.
class FailingPublications final : public store::PublicationStore {
 public:
  store::Status put_publication(const store::Publication&, std::string_view) override { return fail(); }
  store::Status remove_publication(std::string_view) override { return fail(); }
  store::Result<std::vector<store::Publication>> load_publications() const override { return fail(); }
  store::Result<std::size_t> remove_expired_publications(std::int64_t) override { return fail(); }

 private:
  static store::Status fail() { return store::Status::error(store::StatusCode::kIoError, "disk on fire"); }
};

TEST_F(PresenceAgentTest, AStoreFailureDoesNotChangeTheAnswer) {
  teardown();
  FailingPublications failing;
  location_ = std::make_unique<registrar::LocationService>(timers_, nullptr, [this] { return now_; });
  notifier_ = std::make_unique<events::Notifier>(
      events::NotifierConfig{}, layer_, timers_, net_, sip::transport::HostsFile{}, nullptr, [this] { return now_; });
  agent_ = std::make_unique<PresenceAgent>(
      config_, *notifier_, *location_, &failing, nullptr, timers_, [this] { return now_; },
      net_,
      [this](const std::string& aor) { return store_->find_user(aor).ok(); });
  agent_->start();
  notifier_->start();

  Message r = publish_body(pidf(kBob, "t1", "open"));
  ASSERT_EQ(r.status_code(), 200);
  Publish remove;
  remove.if_match = header_text(r, HeaderId::kSipETag);
  remove.expires = "0";
  EXPECT_EQ(publish(remove).status_code(), 200);
  teardown();
}

}  // namespace
}  // namespace herald::services::presence
