#include "services/im/message_service.h"

#include <gtest/gtest.h>

#include <boost/asio/ip/address.hpp>
#include <memory>
#include <string>
#include <vector>

#include "services/core/server_core.h"
#include "sip/txn/clock.h"
#include "sip/txn/timer_service.h"
#include "store/memory_store.h"
#include "services/recording_network.h"
#include "support/sip_text.h"

// Store-and-forward with the real core, proxy, transaction layer, location service and the
// memory store, on a manual clock; the network is a recorder (the integration tests run the
// same flows over sockets with SQLite).
namespace herald::services::im {
namespace {

using sip::HeaderId;
using sip::Message;
using sip::transport::Destination;
using sip::transport::Protocol;
using sip::transport::Source;
using std::chrono::seconds;

using test::header_text;
using test::parse_lf;

Source from(std::string_view address) {
  Source s;
  s.protocol = Protocol::kUdp;
  s.remote_address = boost::asio::ip::make_address(address);
  s.remote_port = 5060;
  s.local_address = boost::asio::ip::make_address("192.0.2.100");
  s.local_port = 5060;
  return s;
}

std::string message_text(int n, std::string_view body, std::string_view extra = "") {
  return "MESSAGE sip:bob@example.com SIP/2.0\n"
         "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKsender" + std::to_string(n) + "\n"
         "Max-Forwards: 70\n"
         "To: <sip:bob@example.com>\n"
         "From: Alice <sip:alice@example.com>;tag=a" + std::to_string(n) + "\n"
         "Call-ID: im-" + std::to_string(n) + "@192.0.2.1\n"
         "CSeq: 1 MESSAGE\n" + std::string(extra) +
         "Content-Type: text/plain\n"
         "Content-Length: " + std::to_string(body.size()) + "\n\n" + std::string(body);
}

proxy::ProxyConfig proxy_config() {
  proxy::ProxyConfig c;
  c.domains = {"example.com"};
  c.answer_within = seconds(10);
  return c;
}

std::string message_from(int n, std::string_view from, std::string_view body = "hi") {
  std::string text = message_text(n, body);
  const std::string old = "From: Alice <sip:alice@example.com>";
  text.replace(text.find(old), old.size(), "From: <" + std::string(from) + ">");
  return text;
}

class MessageServiceTest : public ::testing::Test {
 protected:
  MessageServiceTest() {
    core_.attach(layer_);
    net_.layer = &layer_;
    core_.serve_proxy(proxy_);
    proxy_.set_hooks(&service_);
    EXPECT_TRUE(store_.add_user({"sip:bob@example.com", "example.com", std::string(32, '0'), std::string(64, '0')}).ok());
  }

  void receive(const Message& m, const Source& source = from("192.0.2.1")) {
    layer_.receive(m, source);
    timers_.run_due();
  }
  void advance(seconds d) {
    now_ += d.count();
    clock_.advance(d);
    timers_.run_due();
  }
  void bind() {
    store::Binding b;
    b.aor = "sip:bob@example.com";
    b.contact = "sip:bob@192.0.2.10";
    b.expires_at = now_ + 3600;
    ASSERT_TRUE(location_.put(b).ok());
    timers_.run_due();
  }
  std::vector<Message> sent_messages() const {
    std::vector<Message> out;
    for (const test::SentRequest& s : net_.requests) {
      if (s.message.method() == sip::Method::kMessage) out.push_back(s.message);
    }
    return out;
  }
  // Another MessageService on the fixture's proxy, store and core, with `config`.
  std::unique_ptr<MessageService> service_with(const ImConfig& config) {
    return std::make_unique<MessageService>(
        config, proxy_, location_, &store_, timers_, [this] { return now_; }, net_);
  }
  int last_final() const {
    for (auto it = net_.responses.rbegin(); it != net_.responses.rend(); ++it) {
      if (it->status_code() >= 200) return it->status_code();
    }
    return 0;
  }

  std::int64_t now_ = 1'700'000'000;
  sip::txn::ManualClock clock_;
  sip::txn::TimerService timers_{clock_};
  test::RecordingNetwork net_;
  store::MemoryStore store_;
  ServerCore core_{Capabilities{{"OPTIONS"}, {}, {}, {}}, net_};
  sip::txn::TransactionLayer layer_{timers_, net_, core_, {}};
  registrar::LocationService location_{timers_, nullptr, [this] { return now_; }};
  proxy::Proxy proxy_{proxy_config(),
                      layer_,
                      timers_,
                      location_,
                      net_,
                      [this](const std::string& aor) { return store_.find_user(aor).ok(); },
                      {}};
  ImConfig config_ = [] {
    ImConfig c;
    c.expiry = seconds(3600);
    c.max_per_user = 2;
    c.retry_interval = seconds(10);
    c.max_retry_interval = seconds(40);
    c.sweep_interval = seconds(600);
    return c;
  }();
  MessageService service_{config_, proxy_, location_, &store_, timers_, [this] { return now_; }, net_};
};

TEST_F(MessageServiceTest, OfflineUserGets202AndTheMessagesInOrderOnRegistration) {
  receive(parse_lf(message_text(1, "first", "Date: Sat, 13 Nov 2010 23:29:00 GMT\n")));
  EXPECT_EQ(last_final(), 202);
  EXPECT_EQ(net_.responses.back().reason_phrase(), "Accepted for later delivery");
  receive(parse_lf(message_text(2, "second")));
  EXPECT_EQ(last_final(), 202);
  EXPECT_TRUE(sent_messages().empty());

  bind();
  auto sent = sent_messages();
  ASSERT_EQ(sent.size(), 1u);  // one at a time
  EXPECT_EQ(sent[0].body(), "first");
  EXPECT_EQ(sent[0].request_uri_text(), "sip:bob@192.0.2.10");
  EXPECT_EQ(header_text(sent[0], HeaderId::kFrom), "Alice <sip:alice@example.com>;tag=a1");
  EXPECT_EQ(header_text(sent[0], HeaderId::kDate), "Sat, 13 Nov 2010 23:29:00 GMT");
  EXPECT_EQ(header_text(sent[0], HeaderId::kContentType), "text/plain");
  receive(sip::make_response(sent[0], 200, "OK", "t1"), from("192.0.2.10"));
  sent = sent_messages();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[1].body(), "second");
  EXPECT_FALSE(header_text(sent[1], HeaderId::kDate).empty());  // added when the original had none
  receive(sip::make_response(sent[1], 200, "OK", "t2"), from("192.0.2.10"));
  EXPECT_EQ(store_.count_messages("sip:bob@example.com").value(), 0u);
  EXPECT_EQ(service_.counters().delivered, 2u);
}

TEST_F(MessageServiceTest, AFailedDeliveryIsKeptAndRetriedWithBackoff) {
  receive(parse_lf(message_text(1, "hello")));
  bind();
  ASSERT_EQ(sent_messages().size(), 1u);
  receive(sip::make_response(sent_messages()[0], 480, "Temporarily Unavailable", "t"), from("192.0.2.10"));
  EXPECT_EQ(store_.count_messages("sip:bob@example.com").value(), 1u);
  EXPECT_EQ(store_.pending_messages("sip:bob@example.com").value()[0].attempts, 1u);
  advance(seconds(9));
  EXPECT_EQ(sent_messages().size(), 1u);
  advance(seconds(1));  // retry_interval
  ASSERT_EQ(sent_messages().size(), 2u);
  receive(sip::make_response(sent_messages()[1], 500, "Server Internal Error", "t"), from("192.0.2.10"));
  advance(seconds(19));
  EXPECT_EQ(sent_messages().size(), 2u);
  advance(seconds(1));  // doubled
  ASSERT_EQ(sent_messages().size(), 3u);
  receive(sip::make_response(sent_messages()[2], 200, "OK", "t"), from("192.0.2.10"));
  EXPECT_EQ(store_.count_messages("sip:bob@example.com").value(), 0u);
}

TEST_F(MessageServiceTest, ANewMessageWaitsBehindStoredOnes) {
  receive(parse_lf(message_text(1, "first")));
  bind();
  ASSERT_EQ(sent_messages().size(), 1u);
  receive(sip::make_response(sent_messages()[0], 480, "Temporarily Unavailable", "t"), from("192.0.2.10"));
  // bob is registered, but "first" waits for its retry: "second" must not overtake it.
  receive(parse_lf(message_text(2, "second")));
  EXPECT_EQ(last_final(), 202);
  EXPECT_EQ(sent_messages().size(), 1u);
  advance(seconds(10));
  ASSERT_EQ(sent_messages().size(), 2u);
  EXPECT_EQ(sent_messages()[1].body(), "first");
  receive(sip::make_response(sent_messages()[1], 200, "OK", "t"), from("192.0.2.10"));
  ASSERT_EQ(sent_messages().size(), 3u);
  EXPECT_EQ(sent_messages()[2].body(), "second");
  receive(sip::make_response(sent_messages()[2], 200, "OK", "t"), from("192.0.2.10"));
  EXPECT_EQ(store_.count_messages("sip:bob@example.com").value(), 0u);
  // Nothing stored any more: the next MESSAGE is relayed at once.
  receive(parse_lf(message_text(3, "third")));
  ASSERT_EQ(sent_messages().size(), 4u);
  EXPECT_EQ(sent_messages()[3].body(), "third");
}

TEST_F(MessageServiceTest, EveryBranchFailingTemporarilyStoresTheMessage) {
  bind();
  receive(parse_lf(message_text(1, "hello")));
  ASSERT_EQ(sent_messages().size(), 1u);
  receive(sip::make_response(sent_messages()[0], 480, "Temporarily Unavailable", "t"), from("192.0.2.10"));
  EXPECT_EQ(last_final(), 202);
  EXPECT_EQ(store_.count_messages("sip:bob@example.com").value(), 1u);
}

TEST_F(MessageServiceTest, ARefusalIsNotStored) {
  bind();
  receive(parse_lf(message_text(1, "hello")));
  receive(sip::make_response(sent_messages()[0], 486, "Busy Here", "t"), from("192.0.2.10"));
  EXPECT_EQ(last_final(), 486);
  EXPECT_EQ(store_.count_messages("sip:bob@example.com").value(), 0u);
}

TEST_F(MessageServiceTest, TheCapIsAnswered486) {
  receive(parse_lf(message_text(1, "one")));
  receive(parse_lf(message_text(2, "two")));
  receive(parse_lf(message_text(3, "three")));
  EXPECT_EQ(last_final(), 486);
  EXPECT_EQ(net_.responses.back().reason_phrase(), "Recipient's message store is full");
  EXPECT_EQ(store_.count_messages("sip:bob@example.com").value(), 2u);
}

// A MESSAGE no device answers within answer_within is stored and answered 202, long before
// the sender's Timer F (32 s); the branch goes on, and if the device takes it after all the
// stored copy is removed, so that it does not arrive twice.
TEST_F(MessageServiceTest, NoAnswerWithinTenSecondsIsStoredAnd202ThenALateAnswerRemovesIt) {
  bind();
  receive(parse_lf(message_text(1, "hello")));
  ASSERT_EQ(sent_messages().size(), 1u);
  advance(seconds(9));
  EXPECT_EQ(last_final(), 0);  // only 100 so far, if anything
  advance(seconds(1));
  EXPECT_EQ(last_final(), 202);
  EXPECT_EQ(store_.count_messages("sip:bob@example.com").value(), 1u);
  receive(sip::make_response(sent_messages()[0], 200, "OK", "late"), from("192.0.2.10"));
  EXPECT_EQ(store_.count_messages("sip:bob@example.com").value(), 0u);
  EXPECT_EQ(service_.counters().late_deliveries, 1u);
  int finals = 0;
  for (const Message& r : net_.responses) finals += r.status_code() >= 200 ? 1 : 0;
  EXPECT_EQ(finals, 1);  // the 202 only: the late 200 is not passed on
  const std::size_t sent = sent_messages().size();  // the MESSAGE and its retransmissions
  advance(seconds(120));
  EXPECT_EQ(sent_messages().size(), sent);  // nothing left to deliver
}

// The device never answers (a stale binding): the 202 came at 10 s, the message stays stored
// and is delivered later.
TEST_F(MessageServiceTest, AStaleDeviceLeavesTheMessageStoredForLater) {
  bind();
  receive(parse_lf(message_text(1, "hello")));
  advance(seconds(10));
  EXPECT_EQ(last_final(), 202);
  advance(seconds(23));  // the branch's Timer F: still only the one 202
  int finals = 0;
  for (const Message& r : net_.responses) finals += r.status_code() >= 200 ? 1 : 0;
  EXPECT_EQ(finals, 1);
  EXPECT_EQ(store_.count_messages("sip:bob@example.com").value(), 1u);
  advance(seconds(10));  // the retry
  ASSERT_GE(sent_messages().size(), 2u);
  EXPECT_EQ(sent_messages().back().body(), "hello");
  receive(sip::make_response(sent_messages().back(), 200, "OK", "t"), from("192.0.2.10"));
  EXPECT_EQ(store_.count_messages("sip:bob@example.com").value(), 0u);
}

TEST_F(MessageServiceTest, QuotasPerSenderAndForStrangers) {
  ImConfig config;
  config.max_per_user = 10;
  config.max_per_sender = 2;
  config.max_from_outside = 3;
  config.domains = {"Example.COM"};
  auto quota = service_with(config);
  proxy_.set_hooks(quota.get());
  auto send = [&](int n, std::string_view from) {
    receive(parse_lf(message_from(n, from)));
    return std::make_pair(last_final(), std::string(net_.responses.back().reason_phrase()));
  };
  EXPECT_EQ(send(1, "sip:carol@example.com").first, 202);
  EXPECT_EQ(send(2, "sip:carol@example.com").first, 202);
  EXPECT_EQ(send(3, "sip:carol@example.com"), std::make_pair(486, std::string("Too many stored messages from this sender")));
  EXPECT_EQ(send(4, "sip:m1@evil.test").first, 202);
  EXPECT_EQ(send(5, "sip:m1@evil.test").first, 202);
  EXPECT_EQ(send(6, "sip:m2@evil.test").first, 202);
  EXPECT_EQ(send(7, "sip:m3@evil.test"),
            std::make_pair(486, std::string("Too many stored messages from other domains")));
  EXPECT_EQ(send(8, "sip:dave@example.com").first, 202);  // locals still have room
  EXPECT_EQ(store_.count_messages("sip:bob@example.com").value(), 6u);
  EXPECT_EQ(quota->counters().refused_quota, 2u);

  // A restart counts what is stored again: the quotas hold across it.
  auto again = service_with(config);
  proxy_.set_hooks(again.get());
  EXPECT_EQ(send(9, "sip:m4@evil.test").second, "Too many stored messages from other domains");
  EXPECT_EQ(send(10, "sip:carol@example.com").second, "Too many stored messages from this sender");
  proxy_.set_hooks(&service_);
}

TEST_F(MessageServiceTest, StrangersMayNotLeaveMessagesWhenStoreFromIsLocal) {
  ImConfig config;
  config.store_from_anyone = false;
  config.domains = {"example.com"};
  auto local = service_with(config);
  proxy_.set_hooks(local.get());
  receive(parse_lf(message_from(1, "sip:m1@evil.test")));
  EXPECT_EQ(last_final(), 480);
  receive(parse_lf(message_from(2, "sip:carol@example.com")));
  EXPECT_EQ(last_final(), 202);
  EXPECT_EQ(store_.count_messages("sip:bob@example.com").value(), 1u);
  proxy_.set_hooks(&service_);
}

TEST_F(MessageServiceTest, ExpiredMessagesAreNotDelivered) {
  receive(parse_lf(message_text(1, "old")));
  advance(seconds(3601));
  bind();
  EXPECT_TRUE(sent_messages().empty());
  EXPECT_EQ(store_.count_messages("sip:bob@example.com").value(), 0u);
}

TEST_F(MessageServiceTest, OtherMethodsForAnOfflineUserAre480) {
  receive(parse_lf("INVITE sip:bob@example.com SIP/2.0\n"
                "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKinv\n"
                "Max-Forwards: 70\nTo: <sip:bob@example.com>\nFrom: <sip:alice@example.com>;tag=x\n"
                "Call-ID: inv@192.0.2.1\nCSeq: 1 INVITE\nContent-Length: 0\n\n"));
  EXPECT_EQ(last_final(), 480);
}

}  // namespace
}  // namespace herald::services::im
