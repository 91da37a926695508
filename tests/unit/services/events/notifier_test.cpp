#include "services/events/notifier.h"

#include <gtest/gtest.h>

#include <boost/asio/error.hpp>
#include <boost/asio/ip/address.hpp>
#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "services/events/notify_request.h"
#include "services/events/subscribe_request.h"
#include "services/recording_network.h"
#include "sip/stack/owner.h"
#include "sip/txn/clock.h"
#include "sip/txn/timer_service.h"
#include "sip/txn/transaction_layer.h"
#include "support/sip_text.h"

// The notifier with the real transaction layer and timer service on a manual clock; the
// network is a recorder. The package is a small real one: a counter per resource, whose body
// is the counter's value.
namespace herald::services::events {
namespace {

using sip::HeaderId;
using sip::Message;
using sip::transport::Protocol;
using sip::transport::Source;
using std::chrono::seconds;

using test::header_text;
using test::parse_lf;

constexpr std::int64_t kEpoch = 1'700'000'000;

// "x-counter": the value of a counter per resource, as text/plain ("7") or
// application/x-counter ("count=7"). Resource sip:nobody@example.com does not exist; the
// authorization of each watcher is set by the test (active by default).
class CounterPackage final : public Package {
 public:
  struct Change {
    std::string key;
    State state;
    std::optional<Reason> ended;
  };

  explicit CounterPackage(std::string name) : name_(std::move(name)) {}

  std::string_view name() const override { return name_; }
  std::vector<std::string> content_types() const override { return {"text/plain", "application/x-counter"}; }
  std::optional<Refusal> admit(const Message& subscribe, const Subscription& s) override {
    static_cast<void>(subscribe);
    if (s.resource == "sip:nobody@example.com") return Refusal{404, "Not Found", {}};
    return std::nullopt;
  }
  State authorize(const Subscription& s) override {
    auto found = policy.find(s.watcher);
    return found == policy.end() ? State::kActive : found->second;
  }
  std::optional<Body> body_for(const Subscription& s) override {
    ++bodies;
    const std::string value = std::to_string(values[s.resource]) + padding;
    if (s.content_type == "application/x-counter") return Body{"application/x-counter", "count=" + value};
    return Body{"text/plain", value};
  }
  void on_change(const Subscription& s, std::optional<Reason> ended) override {
    changes.push_back({s.key, s.state, ended});
    if (hook) hook(s, ended);
  }

  // Sets the counter and tells the notifier, as a package does when its state changes.
  void set(Notifier& notifier, const std::string& resource, int value) {
    values[resource] = value;
    notifier.notify(name_, resource);
  }

  std::map<std::string, int> values;
  std::map<std::string, State> policy;  // by watcher AOR
  std::string padding;                  // appended to every body (a large document)
  std::vector<Change> changes;
  int bodies = 0;
  std::function<void(const Subscription&, std::optional<Reason>)> hook;  // called from on_change

 private:
  std::string name_;
};

// Records what is sent; a send to a destination in `unreachable` fails.
class Network final : public test::RecordingNetwork {
 public:
  void send_request(const Message& request, const sip::transport::Destination& to, sip::txn::SendDone done) override {
    if (unreachable.contains(to.address.to_string()) ||
        (to.protocol == Protocol::kTcp && tcp_refused.contains(to.address.to_string()))) {
      failed_sends.push_back(request);
      if (done) done(make_error_code(boost::asio::error::connection_refused));
      return;
    }
    test::RecordingNetwork::send_request(request, to, std::move(done));
  }
  std::set<std::string> unreachable;
  std::set<std::string> tcp_refused;  // TCP connections to these are refused
  std::vector<Message> failed_sends;
};

// The shard's transaction user, reduced to what these tests need: SUBSCRIBEs to the notifier.
class Router final : public sip::txn::TransactionUser {
 public:
  void on_request(sip::txn::ServerTransactionId id, const Message& request, const Source& source) override {
    if (request.method() == sip::Method::kSubscribe) notifier->handle_subscribe(id, request, source);
  }
  Notifier* notifier = nullptr;
};

Source source(std::string_view address, std::uint16_t port, Protocol protocol = Protocol::kUdp) {
  Source s;
  s.protocol = protocol;
  s.remote_address = boost::asio::ip::make_address(address);
  s.remote_port = port;
  s.local_address = boost::asio::ip::make_address("192.0.2.100");
  s.local_port = 5060;
  if (protocol == Protocol::kTcp) s.connection = sip::transport::ConnectionId{7};
  return s;
}

Source alice() { return source("192.0.2.20", 5070); }

// A SUBSCRIBE from alice (contact sip:alice@192.0.2.20:5070) to bob's counter.
struct Subscribe {
  std::string uri = "sip:bob@example.com";
  std::string call_id = "sub1@192.0.2.20";
  std::string from_tag = "w1";
  std::string to_tag;  // empty: an initial SUBSCRIBE
  std::uint32_t cseq = 1;
  std::optional<int> expires = 600;
  std::optional<std::string> event = "x-counter";
  std::string contact = "<sip:alice@192.0.2.20:5070>";  // empty: no Contact
  std::string extra;                                    // more header lines, "\n"-terminated
};

class NotifierTest : public ::testing::Test {
 protected:
  // Every address trusted: the limits on unanswered destinations are tested apart (Limits).
  NotifierTest() {
    config_.trusted = {*sip::transport::parse_subnet("0.0.0.0/0"), *sip::transport::parse_subnet("::/0")};
    make_notifier(nullptr);
  }

  void make_notifier(store::SubscriptionStore* store) {
    router_.notifier = nullptr;
    notifier_.reset();
    notifier_ = std::make_unique<Notifier>(
        config_, layer_, timers_, net_, sip::transport::HostsFile::parse("192.0.2.50 proxy.example.net\n"), store,
        [this] { return now(); });
    net_.layer = &layer_;
    notifier_->add_package(counter_);
    notifier_->add_package(other_);
    router_.notifier = notifier_.get();
  }

  std::int64_t now() const {
    return kEpoch + std::chrono::duration_cast<seconds>(clock_.now().time_since_epoch()).count();
  }

  std::string text(const Subscribe& s) {
    std::string t = "SUBSCRIBE " + s.uri + " SIP/2.0\n";
    t += "Via: SIP/2.0/UDP 192.0.2.20:5070;branch=z9hG4bKsub" + std::to_string(++branches_) + "\n";
    t += "Max-Forwards: 70\n";
    t += "From: \"Alice\" <sip:alice@example.com>;tag=" + s.from_tag + "\n";
    t += "To: <" + s.uri + ">" + (s.to_tag.empty() ? "" : ";tag=" + s.to_tag) + "\n";
    t += "Call-ID: " + s.call_id + "\n";
    t += "CSeq: " + std::to_string(s.cseq) + " SUBSCRIBE\n";
    if (s.event) t += "Event: " + *s.event + "\n";
    if (s.expires) t += "Expires: " + std::to_string(*s.expires) + "\n";
    if (!s.contact.empty()) t += "Contact: " + s.contact + "\n";
    t += s.extra;
    t += "Content-Length: 0\n\n";
    return t;
  }

  // Sends a SUBSCRIBE and returns Herald's final response to it.
  Message subscribe(const Subscribe& s, const Source& from = alice()) {
    const std::size_t before = net_.responses.size();
    layer_.receive(parse_lf(text(s)), from);
    timers_.run_due();
    EXPECT_EQ(net_.responses.size(), before + 1);
    return net_.responses.empty() ? Message{} : net_.responses.back();
  }

  // The NOTIFYs sent so far, retransmissions left out.
  std::vector<test::SentRequest> notifies() const {
    std::vector<test::SentRequest> out;
    std::set<std::string> branches;
    for (const test::SentRequest& r : net_.requests) {
      if (r.message.method() != sip::Method::kNotify) continue;
      if (branches.insert(std::string(r.message.get<sip::hdr::Via>()->branch().value_or(""))).second) out.push_back(r);
    }
    return out;
  }
  Message last_notify() const {
    auto all = notifies();
    EXPECT_FALSE(all.empty());
    return all.empty() ? Message{} : all.back().message;
  }
  void answer(const Message& notify, int code = 200) {
    layer_.receive(sip::make_response(notify, code, sip::default_reason(code)), alice());
    timers_.run_due();
  }
  void advance(seconds d) { sip::txn::run_until(timers_, clock_, clock_.now() + d); }

  static std::string subscription_state(const Message& m) { return header_text(m, HeaderId::kSubscriptionState); }
  static std::uint32_t cseq_of(const Message& m) { return m.get<sip::hdr::CSeq>()->number; }
  static std::string to_tag_of(const Message& m) { return std::string(m.get<sip::hdr::To>()->tag().value_or("")); }

  // Limits out of reach, but where a test sets them (NotifierLimitsTest).
  static NotifierConfig base_config() {
    NotifierConfig c;
    c.min_expires = seconds(60);
    c.max_expires = seconds(7200);
    c.default_expires = seconds(3600);
    c.max_per_resource = c.max_per_watcher = c.max_per_source = c.max_pending_per_resource = 1'000'000;
    return c;
  }
  NotifierConfig config_ = base_config();
  sip::txn::ManualClock clock_;
  sip::txn::TimerService timers_{clock_};
  Network net_;
  Router router_;
  sip::txn::TransactionLayer layer_{timers_, net_, router_, {}};
  CounterPackage counter_{"x-counter"};
  CounterPackage other_{"x-other"};
  std::unique_ptr<Notifier> notifier_;
  int branches_ = 0;
};

TEST_F(NotifierTest, NewSubscriptionGets200ThenANotifyWithTheStateInTheDialog) {
  counter_.values["sip:bob@example.com"] = 7;
  Subscribe s;
  s.event = "X-Counter;id=42";
  s.extra = "Record-Route: <sip:192.0.2.50;lr>, <sip:proxy2.example.net;lr;transport=tcp>\n";
  Message ok = subscribe(s);
  EXPECT_EQ(ok.status_code(), 200);
  const std::string herald_tag = to_tag_of(ok);
  // The notifier's own tag, carrying the resource's slot (later requests reach its owner).
  EXPECT_EQ(sip::slot_of_tag(herald_tag), sip::slot_of("sip:bob@example.com"));
  EXPECT_EQ(header_text(ok, HeaderId::kExpires), "600");
  EXPECT_EQ(header_text(ok, HeaderId::kContact), "<sip:192.0.2.100:5060>");

  ASSERT_EQ(notifies().size(), 1u);
  const test::SentRequest first = notifies()[0];
  const Message& n = first.message;
  EXPECT_EQ(n.request_uri_text(), "sip:alice@192.0.2.20:5070");  // the Contact
  EXPECT_EQ(header_text(n, HeaderId::kFrom), "<sip:bob@example.com>;tag=" + herald_tag);
  EXPECT_EQ(header_text(n, HeaderId::kTo), "<sip:alice@example.com>;tag=w1");
  EXPECT_EQ(header_text(n, HeaderId::kCallId), "sub1@192.0.2.20");
  EXPECT_EQ(header_text(n, HeaderId::kCSeq), "1 NOTIFY");
  EXPECT_EQ(header_text(n, HeaderId::kMaxForwards), "70");
  EXPECT_EQ(header_text(n, HeaderId::kContact), "<sip:192.0.2.100:5060>");
  EXPECT_EQ(header_text(n, HeaderId::kEvent), "x-counter;id=42");
  EXPECT_EQ(subscription_state(n), "active;expires=600");
  EXPECT_EQ(header_text(n, HeaderId::kContentType), "text/plain");
  EXPECT_EQ(n.body(), "7");
  std::vector<std::string> routes;
  for (const sip::HeaderField& f : n.headers()) {
    if (f.id == HeaderId::kRoute) routes.emplace_back(f.value);
  }
  EXPECT_EQ(routes, (std::vector<std::string>{"<sip:192.0.2.50;lr>", "<sip:proxy2.example.net;lr;transport=tcp>"}));
  EXPECT_EQ(first.to.address.to_string(), "192.0.2.50");  // the first route
  EXPECT_EQ(first.to.port, 5060);
  EXPECT_EQ(first.to.protocol, Protocol::kUdp);
  EXPECT_TRUE(n.get<sip::hdr::Via>()->branch()->starts_with("z9hG4bK"));

  // The package hears of it after the NOTIFY; the subscription is listed.
  ASSERT_EQ(counter_.changes.size(), 1u);
  EXPECT_EQ(counter_.changes[0].state, State::kActive);
  EXPECT_FALSE(counter_.changes[0].ended);
  auto subs = notifier_->subscriptions("x-counter", "sip:bob@example.com");
  ASSERT_EQ(subs.size(), 1u);
  EXPECT_EQ(subs[0]->watcher, "sip:alice@example.com");
  EXPECT_EQ(subs[0]->watcher_display, "Alice");
  EXPECT_EQ(subs[0]->event_id, "42");
  EXPECT_EQ(subs[0]->package, "x-counter");
  EXPECT_EQ(subs[0]->route_set,
            (std::vector<std::string>{"sip:192.0.2.50;lr", "sip:proxy2.example.net;lr;transport=tcp"}));
  EXPECT_EQ(notifier_->resources("x-counter"), (std::vector<std::string>{"sip:bob@example.com"}));
  EXPECT_EQ(notifier_->size(), 1u);

  // A change: the next NOTIFY, one CSeq up, with the new value.
  answer(n);
  advance(seconds(100));
  counter_.set(*notifier_, "sip:bob@example.com", 8);
  ASSERT_EQ(notifies().size(), 2u);
  const Message second = notifies()[1].message;
  EXPECT_EQ(cseq_of(second), 2u);
  EXPECT_EQ(second.body(), "8");
  EXPECT_EQ(subscription_state(second), "active;expires=500");
  EXPECT_EQ(header_text(second, HeaderId::kFrom), header_text(n, HeaderId::kFrom));
  EXPECT_EQ(notifier_->counters().subscribes, 1u);
  EXPECT_EQ(notifier_->counters().created, 1u);
  EXPECT_EQ(notifier_->counters().notifies_sent, 2u);
  EXPECT_EQ(notifier_->counters().notifies_failed, 0u);
}

TEST_F(NotifierTest, HasDialogMatchesCallIdTagsPackageAndId) {
  Subscribe s;
  s.event = "x-counter;id=1";
  const std::string tag = to_tag_of(subscribe(s));
  Subscribe in = s;
  in.to_tag = tag;
  in.cseq = 2;
  EXPECT_TRUE(notifier_->has_dialog(parse_lf(text(in))));
  in.event = "x-counter;id=2";
  EXPECT_FALSE(notifier_->has_dialog(parse_lf(text(in))));
  in.event = "x-other;id=1";
  EXPECT_FALSE(notifier_->has_dialog(parse_lf(text(in))));
  in.event = "x-counter;id=1";
  in.from_tag = "w2";
  EXPECT_FALSE(notifier_->has_dialog(parse_lf(text(in))));
  in.from_tag = "w1";
  in.to_tag = "other";
  EXPECT_FALSE(notifier_->has_dialog(parse_lf(text(in))));
  EXPECT_FALSE(notifier_->has_dialog(parse_lf(text(s))));  // no To tag
  EXPECT_EQ(notifier_->package_of(parse_lf(text(s))), &counter_);
  in.event = "x-nothing";
  EXPECT_EQ(notifier_->package_of(parse_lf(text(in))), nullptr);
}

TEST_F(NotifierTest, PresizedTablesFindEverySubscriptionAlsoPastTheirBuckets) {
  notifier_->presize(4);  // a server reserves 131,072 buckets; 4 here, so that 300 grow past them
  std::vector<Subscribe> dialogs;
  for (int i = 0; i < 300; ++i) {
    Subscribe s;
    s.call_id = "presized-" + std::to_string(i);
    Message ok = subscribe(s);
    ASSERT_EQ(ok.status_code(), 200) << i;
    s.to_tag = to_tag_of(ok);
    s.cseq = 2;
    dialogs.push_back(s);
  }
  EXPECT_EQ(notifier_->size(), 300u);
  EXPECT_EQ(notifier_->count("x-counter", "sip:bob@example.com"), 300u);
  for (const Subscribe& s : dialogs) EXPECT_TRUE(notifier_->has_dialog(parse_lf(text(s)))) << s.call_id;
}

TEST_F(NotifierTest, TcpFlowIsUsedWhileItsConnectionIsOpen) {
  net_.open_connection = true;
  Message ok = subscribe(Subscribe{}, source("192.0.2.20", 5070, Protocol::kTcp));
  EXPECT_EQ(header_text(ok, HeaderId::kContact), "<sip:192.0.2.100:5060;transport=tcp>");
  ASSERT_EQ(notifies().size(), 1u);
  EXPECT_EQ(notifies()[0].to.protocol, Protocol::kTcp);
  EXPECT_EQ(notifies()[0].to.address.to_string(), "192.0.2.20");
  EXPECT_EQ(notifies()[0].to.port, 5070);
  EXPECT_EQ(notifies()[0].message.get<sip::hdr::Via>()->transport, "TCP");
  EXPECT_EQ(header_text(notifies()[0].message, HeaderId::kContact), "<sip:192.0.2.100:5060;transport=tcp>");
  EXPECT_EQ(notifier_->subscriptions("x-counter", "sip:bob@example.com")[0]->flow, "tcp:192.0.2.20:5070");
  answer(notifies()[0].message);

  // The connection closed: the remote target (UDP, no transport parameter) instead.
  net_.open_connection = false;
  counter_.set(*notifier_, "sip:bob@example.com", 1);
  ASSERT_EQ(notifies().size(), 2u);
  EXPECT_EQ(notifies()[1].to.protocol, Protocol::kUdp);
  EXPECT_EQ(notifies()[1].to.port, 5070);
}

TEST_F(NotifierTest, FlowOfAnIpv6SourceHasBrackets) {
  Subscribe s;
  s.contact = "<sip:alice@[2001:db8::20]:5070>";
  subscribe(s, source("2001:db8::20", 5070, Protocol::kTcp));
  EXPECT_EQ(notifier_->subscriptions("x-counter", "sip:bob@example.com")[0]->flow, "tcp:[2001:db8::20]:5070");
}

TEST_F(NotifierTest, MissingOrUnknownEventIs489WithAllowEvents) {
  Subscribe s;
  s.event.reset();
  Message missing = subscribe(s);
  EXPECT_EQ(missing.status_code(), 489);
  EXPECT_EQ(header_text(missing, HeaderId::kAllowEvents), "x-counter, x-other");
  s.event = "presence";
  Message unknown = subscribe(s);
  EXPECT_EQ(unknown.status_code(), 489);
  EXPECT_EQ(header_text(unknown, HeaderId::kAllowEvents), "x-counter, x-other");
  EXPECT_TRUE(notifies().empty());
  EXPECT_EQ(notifier_->events(), (std::vector<std::string>{"x-counter", "x-other"}));
  EXPECT_EQ(notifier_->counters().subscribes, 2u);
}

TEST_F(NotifierTest, ExpiresBelowTheMinimumIs423WithMinExpires) {
  Subscribe s;
  s.expires = 59;
  Message r = subscribe(s);
  EXPECT_EQ(r.status_code(), 423);
  EXPECT_EQ(header_text(r, HeaderId::kMinExpires), "60");
  EXPECT_EQ(notifier_->size(), 0u);
}

TEST_F(NotifierTest, ExpiresIsShortenedToTheMaximumAndDefaultsWhenAbsent) {
  Subscribe s;
  s.expires = 100000;
  EXPECT_EQ(header_text(subscribe(s), HeaderId::kExpires), "7200");
  EXPECT_EQ(subscription_state(last_notify()), "active;expires=7200");
  s.expires.reset();
  s.call_id = "sub2@192.0.2.20";
  EXPECT_EQ(header_text(subscribe(s), HeaderId::kExpires), "3600");
  EXPECT_EQ(subscription_state(last_notify()), "active;expires=3600");
}

TEST_F(NotifierTest, AcceptNamingNoneOfThePackageTypesIs406WithAccept) {
  Subscribe s;
  s.extra = "Accept: application/pidf+xml, text/plain;q=0\n";
  Message r = subscribe(s);
  EXPECT_EQ(r.status_code(), 406);
  EXPECT_EQ(header_text(r, HeaderId::kAccept), "text/plain, application/x-counter");
  EXPECT_TRUE(notifies().empty());
}

TEST_F(NotifierTest, AcceptChoosesThePackagesFirstTypeItNames) {
  counter_.values["sip:bob@example.com"] = 3;
  Subscribe s;
  s.extra = "Accept: application/pidf+xml\nAccept: application/*;q=0.5, text/*;q=0.000\n";
  EXPECT_EQ(subscribe(s).status_code(), 200);
  EXPECT_EQ(header_text(last_notify(), HeaderId::kContentType), "application/x-counter");
  EXPECT_EQ(last_notify().body(), "count=3");
  // Both acceptable: the package's order decides, not the Accept order.
  s.call_id = "sub2@192.0.2.20";
  s.extra = "Accept: application/x-counter, text/plain\n";
  subscribe(s);
  EXPECT_EQ(header_text(last_notify(), HeaderId::kContentType), "text/plain");
}

TEST_F(NotifierTest, SubscribeWithoutContactIs400) {
  Subscribe s;
  s.contact.clear();
  Message r = subscribe(s);
  EXPECT_EQ(r.status_code(), 400);
  EXPECT_EQ(r.reason_phrase(), "Missing Contact header");
  s.contact = "*";
  EXPECT_EQ(subscribe(s).status_code(), 400);
  EXPECT_EQ(notifier_->size(), 0u);
}

TEST_F(NotifierTest, PackageRefusalIsTheAnswer) {
  Subscribe s;
  s.uri = "sip:nobody@example.com";
  EXPECT_EQ(subscribe(s).status_code(), 404);
  EXPECT_TRUE(notifies().empty());
  EXPECT_TRUE(counter_.changes.empty());
}

TEST_F(NotifierTest, UnknownDialogIs481AndAnOldCSeqIs500) {
  Subscribe s;
  s.to_tag = "nosuchtag";
  s.cseq = 2;
  EXPECT_EQ(subscribe(s).status_code(), 481);

  Subscribe initial;
  initial.cseq = 5;
  const std::string tag = to_tag_of(subscribe(initial));
  Subscribe refresh = initial;
  refresh.to_tag = tag;
  Message r = subscribe(refresh);  // CSeq 5 again
  EXPECT_EQ(r.status_code(), 500);
  EXPECT_EQ(r.reason_phrase(), "CSeq out of order");
  refresh.cseq = 4;
  EXPECT_EQ(subscribe(refresh).status_code(), 500);
  refresh.cseq = 6;
  EXPECT_EQ(subscribe(refresh).status_code(), 200);
}

TEST_F(NotifierTest, RefreshMovesTheExpiryAndTheTargetAndSendsTheState) {
  Message ok = subscribe(Subscribe{});
  answer(last_notify());
  advance(seconds(500));
  Subscribe refresh;
  refresh.to_tag = to_tag_of(ok);
  refresh.cseq = 2;
  refresh.expires = 1200;
  refresh.contact = "<sip:alice@192.0.2.21:5080>";
  Message r = subscribe(refresh);
  EXPECT_EQ(r.status_code(), 200);
  EXPECT_EQ(to_tag_of(r), to_tag_of(ok));
  EXPECT_EQ(header_text(r, HeaderId::kExpires), "1200");
  ASSERT_EQ(notifies().size(), 2u);
  EXPECT_EQ(notifies()[1].message.request_uri_text(), "sip:alice@192.0.2.21:5080");
  EXPECT_EQ(notifies()[1].to.address.to_string(), "192.0.2.21");
  EXPECT_EQ(cseq_of(notifies()[1].message), 2u);
  EXPECT_EQ(subscription_state(notifies()[1].message), "active;expires=1200");
  answer(notifies()[1].message);

  advance(seconds(200));  // past the first expiry: still there
  EXPECT_EQ(notifier_->size(), 1u);
  EXPECT_EQ(notifies().size(), 2u);
  advance(seconds(1000));  // the new one
  EXPECT_EQ(notifier_->size(), 0u);
  ASSERT_EQ(notifies().size(), 3u);
  EXPECT_EQ(subscription_state(notifies()[2].message), "terminated;reason=timeout");
  EXPECT_EQ(notifies()[2].message.request_uri_text(), "sip:alice@192.0.2.21:5080");
  EXPECT_EQ(counter_.changes.size(), 2u);  // created, ended (a refresh is no change)
}

TEST_F(NotifierTest, UnsubscribeEndsWithAFinalNotifyCarryingTheState) {
  counter_.values["sip:bob@example.com"] = 9;
  Message ok = subscribe(Subscribe{});
  answer(last_notify());
  Subscribe unsubscribe;
  unsubscribe.to_tag = to_tag_of(ok);
  unsubscribe.cseq = 2;
  unsubscribe.expires = 0;
  Message r = subscribe(unsubscribe);
  EXPECT_EQ(r.status_code(), 200);
  EXPECT_EQ(header_text(r, HeaderId::kExpires), "0");
  ASSERT_EQ(notifies().size(), 2u);
  const Message final = notifies()[1].message;
  EXPECT_EQ(subscription_state(final), "terminated;reason=timeout");
  EXPECT_EQ(final.body(), "9");
  EXPECT_EQ(cseq_of(final), 2u);
  EXPECT_EQ(notifier_->size(), 0u);
  EXPECT_TRUE(notifier_->subscriptions("x-counter", "sip:bob@example.com").empty());
  EXPECT_TRUE(notifier_->resources("x-counter").empty());
  ASSERT_EQ(counter_.changes.size(), 2u);
  EXPECT_EQ(counter_.changes[1].ended, Reason::kTimeout);
  EXPECT_EQ(counter_.changes[1].state, State::kTerminated);
  unsubscribe.cseq = 3;
  EXPECT_EQ(subscribe(unsubscribe).status_code(), 481);
  EXPECT_EQ(notifier_->counters().terminated, 1u);
}

TEST_F(NotifierTest, FetchIsOneFinalNotifyAndNothingKept) {
  counter_.values["sip:bob@example.com"] = 4;
  Subscribe s;
  s.expires = 0;
  Message ok = subscribe(s);
  EXPECT_EQ(ok.status_code(), 200);
  EXPECT_EQ(header_text(ok, HeaderId::kExpires), "0");
  ASSERT_EQ(notifies().size(), 1u);
  EXPECT_EQ(subscription_state(last_notify()), "terminated;reason=timeout");
  EXPECT_EQ(last_notify().body(), "4");
  EXPECT_EQ(header_text(last_notify(), HeaderId::kFrom), "<sip:bob@example.com>;tag=" + to_tag_of(ok));
  EXPECT_EQ(notifier_->size(), 0u);
  ASSERT_EQ(counter_.changes.size(), 1u);  // ended only
  EXPECT_EQ(counter_.changes[0].ended, Reason::kTimeout);
  answer(last_notify());
  EXPECT_EQ(notifier_->counters().created, 0u);
  EXPECT_EQ(notifier_->counters().notifies_failed, 0u);

  // A pending fetch gets no state.
  counter_.policy["sip:alice@example.com"] = State::kPending;
  s.call_id = "sub2@192.0.2.20";
  subscribe(s);
  EXPECT_EQ(subscription_state(last_notify()), "terminated;reason=timeout");
  EXPECT_TRUE(last_notify().body().empty());
}

TEST_F(NotifierTest, ExpiryEndsTheSubscriptionWithAFinalNotify) {
  counter_.values["sip:bob@example.com"] = 2;
  subscribe(Subscribe{});
  answer(last_notify());
  advance(seconds(599));
  EXPECT_EQ(notifier_->size(), 1u);
  advance(seconds(1));
  EXPECT_EQ(notifier_->size(), 0u);
  ASSERT_EQ(notifies().size(), 2u);
  EXPECT_EQ(subscription_state(last_notify()), "terminated;reason=timeout");
  EXPECT_EQ(last_notify().body(), "2");
  EXPECT_EQ(counter_.changes.back().ended, Reason::kTimeout);
  answer(last_notify());
}

TEST_F(NotifierTest, PendingBecomesActiveOnReauthorize) {
  counter_.values["sip:bob@example.com"] = 5;
  counter_.policy["sip:alice@example.com"] = State::kPending;
  subscribe(Subscribe{});
  ASSERT_EQ(notifies().size(), 1u);
  EXPECT_EQ(subscription_state(last_notify()), "pending;expires=600");
  EXPECT_TRUE(last_notify().body().empty());
  EXPECT_FALSE(last_notify().has(HeaderId::kContentType));
  answer(last_notify());
  const int bodies = counter_.bodies;
  counter_.set(*notifier_, "sip:bob@example.com", 6);  // pending: nothing
  EXPECT_EQ(notifies().size(), 1u);
  EXPECT_EQ(counter_.bodies, bodies);
  EXPECT_EQ(notifier_->subscriptions("x-counter", "sip:bob@example.com")[0]->state, State::kPending);

  advance(seconds(10));
  counter_.policy["sip:alice@example.com"] = State::kActive;
  notifier_->reauthorize("x-counter", "sip:bob@example.com");
  ASSERT_EQ(notifies().size(), 2u);
  EXPECT_EQ(subscription_state(last_notify()), "active;expires=590");
  EXPECT_EQ(last_notify().body(), "6");
  ASSERT_EQ(counter_.changes.size(), 2u);
  EXPECT_EQ(counter_.changes[1].state, State::kActive);
  EXPECT_FALSE(counter_.changes[1].ended);
  answer(last_notify());

  // Back to pending: a NOTIFY without a body.
  counter_.policy["sip:alice@example.com"] = State::kPending;
  notifier_->reauthorize("x-counter", "sip:bob@example.com");
  ASSERT_EQ(notifies().size(), 3u);
  EXPECT_EQ(subscription_state(last_notify()), "pending;expires=590");
  EXPECT_TRUE(last_notify().body().empty());
}

TEST_F(NotifierTest, ActiveBecomesRejectedOnReauthorize) {
  const std::string tag = to_tag_of(subscribe(Subscribe{}));
  answer(last_notify());
  counter_.policy["sip:alice@example.com"] = State::kTerminated;
  notifier_->reauthorize("x-counter", "sip:bob@example.com");
  ASSERT_EQ(notifies().size(), 2u);
  EXPECT_EQ(subscription_state(last_notify()), "terminated;reason=rejected");
  EXPECT_TRUE(last_notify().body().empty());
  EXPECT_EQ(counter_.changes.back().ended, Reason::kRejected);
  EXPECT_EQ(notifier_->size(), 0u);
  Subscribe refresh;
  refresh.to_tag = tag;
  refresh.cseq = 2;
  EXPECT_EQ(subscribe(refresh).status_code(), 481);
}

TEST_F(NotifierTest, BlockedNewSubscriptionGets200ThenRejected) {
  counter_.policy["sip:alice@example.com"] = State::kTerminated;
  Message ok = subscribe(Subscribe{});
  EXPECT_EQ(ok.status_code(), 200);
  ASSERT_EQ(notifies().size(), 1u);
  EXPECT_EQ(subscription_state(last_notify()), "terminated;reason=rejected");
  EXPECT_TRUE(last_notify().body().empty());
  EXPECT_EQ(notifier_->size(), 0u);
  ASSERT_EQ(counter_.changes.size(), 1u);
  EXPECT_EQ(counter_.changes[0].ended, Reason::kRejected);
}

TEST_F(NotifierTest, ChangesWhileANotifyIsOutstandingAreCoalesced) {
  subscribe(Subscribe{});
  ASSERT_EQ(notifies().size(), 1u);
  counter_.set(*notifier_, "sip:bob@example.com", 1);
  counter_.set(*notifier_, "sip:bob@example.com", 2);
  counter_.set(*notifier_, "sip:bob@example.com", 3);
  EXPECT_EQ(notifies().size(), 1u);  // at most one outstanding
  answer(notifies()[0].message);
  ASSERT_EQ(notifies().size(), 2u);
  EXPECT_EQ(last_notify().body(), "3");
  EXPECT_EQ(cseq_of(last_notify()), 2u);
  answer(last_notify());
  EXPECT_EQ(notifies().size(), 2u);
  EXPECT_EQ(notifier_->counters().notifies_superseded, 2u);
  EXPECT_EQ(notifier_->counters().notifies_sent, 2u);
}

TEST_F(NotifierTest, SubscriptionEndedWhileItsNotifyIsOutGetsTheFinalOneAfterTheAnswer) {
  const std::string tag = to_tag_of(subscribe(Subscribe{}));
  Subscribe unsubscribe;
  unsubscribe.to_tag = tag;
  unsubscribe.cseq = 2;
  unsubscribe.expires = 0;
  EXPECT_EQ(subscribe(unsubscribe).status_code(), 200);
  EXPECT_EQ(notifies().size(), 1u);  // the first is still out
  EXPECT_EQ(notifier_->size(), 0u);
  EXPECT_TRUE(notifier_->subscriptions("x-counter", "sip:bob@example.com").empty());
  unsubscribe.cseq = 3;
  EXPECT_EQ(subscribe(unsubscribe).status_code(), 481);
  answer(notifies()[0].message);
  ASSERT_EQ(notifies().size(), 2u);
  EXPECT_EQ(subscription_state(last_notify()), "terminated;reason=timeout");
  EXPECT_EQ(cseq_of(last_notify()), 2u);
}

TEST_F(NotifierTest, NotifyAnswered481EndsTheSubscriptionWithoutAnotherNotify) {
  subscribe(Subscribe{});
  answer(last_notify(), 481);
  EXPECT_EQ(notifier_->size(), 0u);
  EXPECT_EQ(notifies().size(), 1u);
  ASSERT_EQ(counter_.changes.size(), 2u);
  EXPECT_EQ(counter_.changes[1].ended, Reason::kDeactivated);
  counter_.set(*notifier_, "sip:bob@example.com", 1);
  EXPECT_EQ(notifies().size(), 1u);
  EXPECT_EQ(notifier_->counters().notifies_failed, 1u);
  EXPECT_EQ(notifier_->counters().terminated, 1u);
}

TEST_F(NotifierTest, NotifyTimeoutEndsTheSubscription) {
  subscribe(Subscribe{});
  advance(seconds(31));
  EXPECT_EQ(notifier_->size(), 1u);
  advance(seconds(1));  // Timer F: 64*T1
  EXPECT_EQ(notifier_->size(), 0u);
  ASSERT_EQ(counter_.changes.size(), 2u);
  EXPECT_EQ(counter_.changes[1].ended, Reason::kGiveup);
  EXPECT_EQ(notifies().size(), 1u);  // no final NOTIFY
  EXPECT_EQ(notifier_->counters().notifies_failed, 1u);
  advance(seconds(3600));
  EXPECT_EQ(notifies().size(), 1u);
}

TEST_F(NotifierTest, NotifyTransportErrorEndsTheSubscription) {
  subscribe(Subscribe{});
  answer(last_notify());
  net_.unreachable.insert("192.0.2.20");
  counter_.set(*notifier_, "sip:bob@example.com", 1);  // fails within the call
  EXPECT_EQ(net_.failed_sends.size(), 1u);
  EXPECT_EQ(notifier_->size(), 0u);
  ASSERT_EQ(counter_.changes.size(), 2u);
  EXPECT_EQ(counter_.changes[1].ended, Reason::kGiveup);
  EXPECT_EQ(notifier_->counters().notifies_failed, 1u);
  advance(seconds(700));
  EXPECT_EQ(net_.failed_sends.size(), 1u);
  EXPECT_EQ(notifies().size(), 1u);
}

TEST_F(NotifierTest, UnresolvableTargetEndsTheSubscription) {
  Subscribe s;
  s.contact = "<sip:alice@pc.unknown.example>";
  EXPECT_EQ(subscribe(s).status_code(), 200);
  EXPECT_TRUE(notifies().empty());
  EXPECT_EQ(notifier_->size(), 0u);
  ASSERT_EQ(counter_.changes.size(), 1u);
  EXPECT_EQ(counter_.changes[0].ended, Reason::kGiveup);
}

TEST_F(NotifierTest, OtherNotifyErrorsKeepTheSubscription) {
  subscribe(Subscribe{});
  answer(last_notify(), 500);
  EXPECT_EQ(notifier_->size(), 1u);
  counter_.set(*notifier_, "sip:bob@example.com", 1);
  EXPECT_EQ(notifies().size(), 2u);
  EXPECT_EQ(notifier_->counters().notifies_failed, 1u);
}

TEST_F(NotifierTest, SubscriptionsWithOtherEventIdsAreKeptApart) {
  Subscribe one;
  one.event = "x-counter;id=1";
  Subscribe two = one;
  two.event = "x-counter;id=2";
  const std::string tag1 = to_tag_of(subscribe(one));
  answer(last_notify());
  const std::string tag2 = to_tag_of(subscribe(two));
  answer(last_notify());
  EXPECT_NE(tag1, tag2);
  EXPECT_EQ(notifier_->size(), 2u);
  EXPECT_EQ(header_text(notifies()[0].message, HeaderId::kEvent), "x-counter;id=1");
  EXPECT_EQ(header_text(notifies()[1].message, HeaderId::kEvent), "x-counter;id=2");

  // The first dialog with the second id names no subscription.
  Subscribe wrong = two;
  wrong.to_tag = tag1;
  wrong.cseq = 2;
  EXPECT_EQ(subscribe(wrong).status_code(), 481);
  Subscribe end_one = one;
  end_one.to_tag = tag1;
  end_one.cseq = 3;
  end_one.expires = 0;
  EXPECT_EQ(subscribe(end_one).status_code(), 200);
  auto left = notifier_->subscriptions("x-counter", "sip:bob@example.com");
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0]->event_id, "2");
  EXPECT_EQ(left[0]->local_tag, tag2);
}

TEST_F(NotifierTest, PackagesAndResourcesAreKeptApart) {
  Subscribe s;
  subscribe(s);
  answer(last_notify());
  s.event = "x-other";
  s.call_id = "sub2@192.0.2.20";
  subscribe(s);
  answer(last_notify());
  s.event = "x-counter";
  s.call_id = "sub3@192.0.2.20";
  s.uri = "sip:carol@example.com";
  subscribe(s);
  answer(last_notify());
  EXPECT_EQ(notifier_->subscriptions("x-counter", "sip:bob@example.com").size(), 1u);
  EXPECT_EQ(notifier_->subscriptions("x-other", "sip:bob@example.com").size(), 1u);
  auto resources = notifier_->resources("x-counter");
  std::sort(resources.begin(), resources.end());
  EXPECT_EQ(resources, (std::vector<std::string>{"sip:bob@example.com", "sip:carol@example.com"}));
  counter_.set(*notifier_, "sip:bob@example.com", 1);
  ASSERT_EQ(notifies().size(), 4u);
  EXPECT_EQ(header_text(last_notify(), HeaderId::kCallId), "sub1@192.0.2.20");
}

TEST_F(NotifierTest, OneChangeReachesEveryWatcherOldestFirst) {
  constexpr int kWatchers = 200;
  for (int i = 0; i < kWatchers; ++i) {
    Subscribe s;
    s.call_id = "fan" + std::to_string(i) + "@192.0.2.20";
    subscribe(s);
    answer(last_notify());
  }
  // Ending some in the middle leaves the order of the rest.
  auto subs = notifier_->subscriptions("x-counter", "sip:bob@example.com");
  ASSERT_EQ(subs.size(), static_cast<std::size_t>(kWatchers));
  std::vector<std::pair<std::string, std::string>> ends;
  for (int i = 0; i < kWatchers; i += 2) ends.emplace_back(subs[i]->call_id, subs[i]->local_tag);
  for (const auto& [call_id, tag] : ends) {
    Subscribe unsubscribe;
    unsubscribe.call_id = call_id;
    unsubscribe.to_tag = tag;
    unsubscribe.cseq = 2;
    unsubscribe.expires = 0;
    subscribe(unsubscribe);
    answer(last_notify());
  }
  subs = notifier_->subscriptions("x-counter", "sip:bob@example.com");
  ASSERT_EQ(subs.size(), static_cast<std::size_t>(kWatchers / 2));
  for (int i = 0; i < kWatchers / 2; ++i) EXPECT_EQ(subs[i]->call_id, "fan" + std::to_string(2 * i + 1) + "@192.0.2.20");

  const std::size_t before = notifies().size();
  const int bodies = counter_.bodies;
  counter_.set(*notifier_, "sip:bob@example.com", 11);
  auto all = notifies();
  ASSERT_EQ(all.size(), before + kWatchers / 2);
  EXPECT_EQ(counter_.bodies, bodies + kWatchers / 2);  // one body per subscription
  for (std::size_t i = before; i < all.size(); ++i) {
    EXPECT_EQ(all[i].message.body(), "11");
    EXPECT_EQ(header_text(all[i].message, HeaderId::kCallId),
              "fan" + std::to_string(2 * (i - before) + 1) + "@192.0.2.20");
  }
}

TEST_F(NotifierTest, WatchersEndedDuringAFanOutAreSkipped) {
  for (int i = 0; i < 3; ++i) {
    Subscribe s;
    s.call_id = "walk" + std::to_string(i) + "@192.0.2.20";
    s.contact = i == 0 ? "<sip:alice@192.0.2.30>" : "<sip:alice@192.0.2.20:5070>";
    subscribe(s);
    answer(last_notify());
  }
  // The first NOTIFY of the fan-out fails at once; the package, told of that, reauthorizes
  // the resource, which rejects the other two while the notifier is still walking them.
  net_.unreachable.insert("192.0.2.30");
  counter_.policy["sip:alice@example.com"] = State::kTerminated;
  counter_.hook = [this](const Subscription& s, std::optional<Reason> ended) {
    if (ended == Reason::kGiveup) notifier_->reauthorize("x-counter", s.resource);
  };
  counter_.set(*notifier_, "sip:bob@example.com", 1);
  EXPECT_EQ(notifier_->size(), 0u);
  EXPECT_TRUE(notifier_->resources("x-counter").empty());
  auto all = notifies();
  ASSERT_EQ(all.size(), 5u);  // three first ones, then the two rejections; no body "1" to them
  EXPECT_EQ(subscription_state(all[3].message), "terminated;reason=rejected");
  EXPECT_EQ(subscription_state(all[4].message), "terminated;reason=rejected");
  EXPECT_EQ(header_text(all[3].message, HeaderId::kCallId), "walk1@192.0.2.20");
  EXPECT_EQ(header_text(all[4].message, HeaderId::kCallId), "walk2@192.0.2.20");
  ASSERT_EQ(counter_.changes.size(), 6u);
  EXPECT_EQ(counter_.changes[3].ended, Reason::kGiveup);
  EXPECT_EQ(counter_.changes[4].ended, Reason::kRejected);
  EXPECT_EQ(counter_.changes[5].ended, Reason::kRejected);
}

TEST_F(NotifierTest, StrictRouterTakesTheRequestUri) {
  Subscribe s;
  s.extra = "Record-Route: <sip:192.0.2.50>\n";
  subscribe(s);
  const Message n = last_notify();
  EXPECT_EQ(n.request_uri_text(), "sip:192.0.2.50");
  EXPECT_EQ(header_text(n, HeaderId::kRoute), "<sip:alice@192.0.2.20:5070>");
  EXPECT_EQ(notifies()[0].to.address.to_string(), "192.0.2.50");
}

// ---- what others can make the notifier keep and send

class NotifierLimitsTest : public NotifierTest {
 protected:
  NotifierLimitsTest() {
    config_.trusted.clear();
    make_notifier(nullptr);
  }
  Message subscribe_n(int n, const Source& from = alice(), std::string uri = "sip:bob@example.com") {
    Subscribe s;
    s.uri = std::move(uri);
    s.call_id = "limits" + std::to_string(n) + "@192.0.2.20";
    s.from_tag = "l" + std::to_string(n);
    return subscribe(s, from);
  }
  void expect_refused(const Message& r, std::string_view reason) {
    EXPECT_EQ(r.status_code(), 503);
    EXPECT_EQ(r.reason_phrase(), reason);
    EXPECT_EQ(header_text(r, HeaderId::kRetryAfter), "60");
  }
  // Answers every NOTIFY not answered yet.
  void answer_all() {
    for (const test::SentRequest& n : notifies()) {
      const std::string branch(n.message.get<sip::hdr::Via>()->branch().value_or(""));
      if (answered_.insert(branch).second) answer(n.message);
    }
  }
  std::set<std::string> answered_;
};

TEST_F(NotifierLimitsTest, SubscriptionsFromOneSourceAreCapped) {
  config_.max_per_source = 2;
  make_notifier(nullptr);
  EXPECT_EQ(subscribe_n(1).status_code(), 200);
  EXPECT_EQ(subscribe_n(2).status_code(), 200);
  expect_refused(subscribe_n(3), "Too many subscriptions from this address");
  EXPECT_EQ(subscribe_n(4, source("192.0.2.21", 5070)).status_code(), 200);  // another source
  EXPECT_EQ(notifier_->counters().refused_limit, 1u);
  // One ends: its place is free again.
  Subscribe bye;
  bye.call_id = "limits1@192.0.2.20";
  bye.from_tag = "l1";
  bye.to_tag = to_tag_of(net_.responses[0]);
  bye.cseq = 2;
  bye.expires = 0;
  answer_all();
  EXPECT_EQ(subscribe(bye).status_code(), 200);
  EXPECT_EQ(subscribe_n(5).status_code(), 200);
}

TEST_F(NotifierLimitsTest, SubscriptionsOfOneWatcherAndToOneResourceAreCapped) {
  config_.max_per_watcher = 2;
  make_notifier(nullptr);
  EXPECT_EQ(subscribe_n(1, alice(), "sip:bob@example.com").status_code(), 200);
  EXPECT_EQ(subscribe_n(2, alice(), "sip:carol@example.com").status_code(), 200);
  expect_refused(subscribe_n(3, source("192.0.2.99", 5070), "sip:dave@example.com"),
                 "Too many subscriptions from this watcher");

  config_ = base_config();
  config_.max_per_resource = 1;
  make_notifier(nullptr);
  EXPECT_EQ(subscribe_n(4).status_code(), 200);
  expect_refused(subscribe_n(5, source("192.0.2.21", 5070)), "Too many subscriptions to this resource");
  EXPECT_EQ(subscribe_n(6, alice(), "sip:carol@example.com").status_code(), 200);
}

TEST_F(NotifierLimitsTest, PendingSubscriptionsAreFewAndShort) {
  config_.max_pending_per_resource = 1;
  config_.pending_expires = seconds(120);
  make_notifier(nullptr);
  counter_.policy["sip:alice@example.com"] = State::kPending;
  const Message first = subscribe_n(1);
  EXPECT_EQ(first.status_code(), 200);
  EXPECT_EQ(header_text(first, HeaderId::kExpires), "120");  // asked for 600
  expect_refused(subscribe_n(2), "Too many pending subscriptions to this resource");
  counter_.policy.clear();  // an active one is not pending: it goes in
  EXPECT_EQ(subscribe_n(3).status_code(), 200);
  answer_all();
  advance(seconds(121));  // the pending one expired: room again
  answer_all();
  counter_.policy["sip:alice@example.com"] = State::kPending;
  EXPECT_EQ(subscribe_n(4).status_code(), 200);
}

// A destination that has not answered yet gets two NOTIFYs at a time; the rest wait for its
// first answer, then all go.
TEST_F(NotifierLimitsTest, ADestinationThatNeverAnsweredGetsTwoNotifiesAtATime) {
  for (int i = 1; i <= 4; ++i) EXPECT_EQ(subscribe_n(i).status_code(), 200);
  EXPECT_EQ(notifies().size(), 2u);
  EXPECT_EQ(notifier_->counters().notifies_held, 2u);
  answer(notifies()[0].message);
  EXPECT_EQ(notifies().size(), 4u);
  EXPECT_EQ(notifier_->size(), 4u);
}

// One that never answers costs one NOTIFY's retransmissions per unresponsive_for, whatever
// the number of SUBSCRIBEs naming it.
TEST_F(NotifierLimitsTest, AnUnresponsiveDestinationGetsNothingMoreForAWhile) {
  for (int i = 1; i <= 5; ++i) EXPECT_EQ(subscribe_n(i).status_code(), 200);
  EXPECT_EQ(notifies().size(), 2u);
  advance(seconds(32));  // Timer F: both time out
  EXPECT_EQ(notifies().size(), 2u);
  EXPECT_EQ(notifier_->size(), 0u);  // the two timed out, the three waiting ended unsent
  EXPECT_EQ(notifier_->counters().unresponsive_ended, 3u);
  EXPECT_EQ(subscribe_n(6).status_code(), 200);
  EXPECT_EQ(notifies().size(), 2u);  // not even tried
  EXPECT_EQ(notifier_->size(), 0u);
  advance(seconds(601));
  EXPECT_EQ(subscribe_n(7).status_code(), 200);
  EXPECT_EQ(notifies().size(), 3u);  // tried again
}

// RFC 3261 §18.1.1: over 1300 bytes, a NOTIFY bound for UDP goes over TCP to the same address,
// and over UDP after all when TCP is refused.
TEST_F(NotifierTest, ALargeNotifyGoesOverTcpThenUdpWhenTcpIsRefused) {
  counter_.padding = std::string(1400, 'x');
  subscribe(Subscribe{});
  ASSERT_EQ(notifies().size(), 1u);
  const test::SentRequest first = notifies()[0];
  EXPECT_EQ(first.to.protocol, Protocol::kTcp);
  EXPECT_EQ(first.to.address.to_string(), "192.0.2.20");
  EXPECT_EQ(first.to.port, 5070);
  EXPECT_TRUE(header_text(first.message, HeaderId::kVia).starts_with("SIP/2.0/TCP "));
  EXPECT_EQ(notifier_->counters().notifies_over_tcp, 1u);
  answer(first.message);

  net_.tcp_refused.insert("192.0.2.20");
  counter_.set(*notifier_, "sip:bob@example.com", 2);
  ASSERT_EQ(net_.failed_sends.size(), 1u);
  ASSERT_EQ(notifies().size(), 2u);
  const test::SentRequest again = notifies()[1];
  EXPECT_EQ(again.to.protocol, Protocol::kUdp);
  EXPECT_TRUE(header_text(again.message, HeaderId::kVia).starts_with("SIP/2.0/UDP "));
  EXPECT_EQ(again.message.body().substr(0, 1), "2");
  EXPECT_EQ(notifier_->size(), 1u);  // still there
}

TEST(SubscribeRequest, KeyJoinsCallIdTagsPackageAndId) {
  EXPECT_EQ(subscription_key("c@h", "herald", "w1", "presence", "7"), "c@h herald w1 presence 7");
  EXPECT_NE(subscription_key("c@h", "herald", "w1", "presence", ""),
            subscription_key("c@h", "herald", "w1", "presence", "7"));
  EXPECT_NE(subscription_key("c@h", "herald", "w1", "presence", ""),
            subscription_key("c@h", "herald", "w1", "presence.winfo", ""));
}

TEST(SubscribeRequest, BodyTypeFromAccept) {
  const std::vector<std::string> types = {"application/pidf+xml", "application/cpim-pidf+xml"};
  auto choose = [&](std::string_view accept_lines) {
    std::string text = "SUBSCRIBE sip:bob@example.com SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.20;branch=z9hG4bKa\n";
    text += "From: <sip:alice@example.com>;tag=1\nTo: <sip:bob@example.com>\nCall-ID: c\nCSeq: 1 SUBSCRIBE\n";
    text += accept_lines;
    text += "Content-Length: 0\n\n";
    return choose_body_type(parse_lf(text), types);
  };
  EXPECT_EQ(choose("").type, "application/pidf+xml");  // no Accept: the package's default
  EXPECT_EQ(choose("Accept: application/cpim-pidf+xml\n").type, "application/cpim-pidf+xml");
  EXPECT_EQ(choose("Accept: application/*\n").type, "application/pidf+xml");
  EXPECT_EQ(choose("Accept: text/plain, application/*;q=0.5\nAccept: application/pidf+xml;q=0\n").type,
            "application/cpim-pidf+xml");  // the specific range wins over the wildcard
  EXPECT_EQ(choose("Accept: application/pidf+xml;q=0, */*;q=0.1\n").type, "application/cpim-pidf+xml");
  EXPECT_EQ(choose("Accept: APPLICATION/CPIM-PIDF+XML;q=1.0\n").type, "application/cpim-pidf+xml");
  EXPECT_FALSE(choose("Accept: application/pidf+xml;q=0.000, text/plain\n").type);
  EXPECT_FALSE(choose("Accept:\n").type);  // nothing is acceptable (RFC 3261 §20.1)
  auto bad = choose("Accept: application\n");
  EXPECT_FALSE(bad.type);
  EXPECT_FALSE(bad.malformed.empty());
}

TEST(NotifyRequest, PendingWithoutRemoteTagOrBody) {
  Subscription s;
  s.package = "presence";
  s.call_id = "c@h";
  s.local_tag = "herald";
  s.local_uri = "sip:bob@example.com";
  s.remote_uri = "sip:alice@example.com";
  s.remote_target = "sip:alice@192.0.2.20";
  NotifyParts parts;
  parts.cseq = 3;
  parts.state = State::kPending;
  parts.expires_in = -5;  // never negative on the wire
  parts.via = "SIP/2.0/UDP 192.0.2.100:5060;branch=z9hG4bK-0-1;rport";
  parts.contact = "<sip:192.0.2.100:5060>";
  // Built as a Message, it reads back the same after a round trip through the wire format.
  auto parse = [](const Message& built) {
    auto parsed = sip::parse_message(sip::serialize(built));
    EXPECT_TRUE(parsed.ok());
    return parsed.ok() ? parsed.value() : Message{};
  };
  Message m = parse(notify_request(s, parts));
  EXPECT_EQ(m.method(), sip::Method::kNotify);
  EXPECT_TRUE(m.defect().empty());
  EXPECT_EQ(header_text(m, HeaderId::kTo), "<sip:alice@example.com>");
  EXPECT_EQ(header_text(m, HeaderId::kEvent), "presence");
  EXPECT_EQ(header_text(m, HeaderId::kSubscriptionState), "pending;expires=0");
  EXPECT_EQ(header_text(m, HeaderId::kContentLength), "0");
  EXPECT_FALSE(m.has(HeaderId::kContentType));
  EXPECT_FALSE(m.has(HeaderId::kRoute));

  Body body{"", "<doc/>"};  // a body naming no type gets the negotiated one
  s.content_type = "application/pidf+xml";
  parts.state = State::kTerminated;
  parts.reason = Reason::kNoresource;
  parts.body = &body;
  m = parse(notify_request(s, parts));
  EXPECT_EQ(header_text(m, HeaderId::kSubscriptionState), "terminated;reason=noresource");
  EXPECT_EQ(header_text(m, HeaderId::kContentType), "application/pidf+xml");
  EXPECT_EQ(m.body(), "<doc/>");
}

TEST(NotifyRequest, ExactTextInItsDialogWithLooseRoutesAndBody) {
  Subscription s;
  s.package = "presence";
  s.event_id = "7";
  s.call_id = "c@h";
  s.local_tag = "herald";
  s.remote_tag = "w1";
  s.local_uri = "sip:bob@example.com";
  s.remote_uri = "sip:alice@example.com";
  s.remote_target = "sip:alice@192.0.2.20:5070";
  s.route_set = {"sip:p1.example.com;lr", "sip:p2.example.com;lr"};
  s.content_type = "application/pidf+xml";
  Body body{"", "<presence/>"};
  NotifyParts parts;
  parts.cseq = 4294967295u;
  parts.state = State::kActive;
  parts.expires_in = 3600;
  parts.via = "SIP/2.0/TCP 192.0.2.100:5060;branch=z9hG4bK-0-1;rport";
  parts.contact = "<sip:192.0.2.100:5060;transport=tcp>";
  parts.body = &body;
  EXPECT_EQ(sip::serialize(notify_request(s, parts)),
            "NOTIFY sip:alice@192.0.2.20:5070 SIP/2.0\r\n"
            "Via: SIP/2.0/TCP 192.0.2.100:5060;branch=z9hG4bK-0-1;rport\r\n"
            "Route: <sip:p1.example.com;lr>\r\n"
            "Route: <sip:p2.example.com;lr>\r\n"
            "Max-Forwards: 70\r\n"
            "From: <sip:bob@example.com>;tag=herald\r\n"
            "To: <sip:alice@example.com>;tag=w1\r\n"
            "Call-ID: c@h\r\n"
            "CSeq: 4294967295 NOTIFY\r\n"
            "Contact: <sip:192.0.2.100:5060;transport=tcp>\r\n"
            "Event: presence;id=7\r\n"
            "Subscription-State: active;expires=3600\r\n"
            "Content-Type: application/pidf+xml\r\n"
            "Content-Length: 11\r\n"
            "\r\n"
            "<presence/>");
  // A strict first route becomes the Request-URI, the remote target the last Route.
  s.route_set = {"sip:strict.example.com"};
  const std::string strict = sip::serialize(notify_request(s, parts));
  EXPECT_EQ(strict.substr(0, strict.find("\r\n")), "NOTIFY sip:strict.example.com SIP/2.0");
  EXPECT_NE(strict.find("Route: <sip:alice@192.0.2.20:5070>\r\nMax-Forwards: 70"), std::string::npos);
}

TEST(NotifierStrings, StatesAndReasons) {
  EXPECT_EQ(to_string(State::kPending), "pending");
  EXPECT_EQ(to_string(State::kActive), "active");
  EXPECT_EQ(to_string(State::kTerminated), "terminated");
  EXPECT_EQ(to_string(Reason::kDeactivated), "deactivated");
  EXPECT_EQ(to_string(Reason::kProbation), "probation");
  EXPECT_EQ(to_string(Reason::kRejected), "rejected");
  EXPECT_EQ(to_string(Reason::kTimeout), "timeout");
  EXPECT_EQ(to_string(Reason::kGiveup), "giveup");
  EXPECT_EQ(to_string(Reason::kNoresource), "noresource");
}

}  // namespace
}  // namespace herald::services::events
