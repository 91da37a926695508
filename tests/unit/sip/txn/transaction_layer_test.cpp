#include "sip/txn/transaction_layer.h"

#include <gtest/gtest.h>

#include <boost/asio/error.hpp>
#include <boost/asio/ip/address.hpp>
#include <cctype>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "sip/msg/ack.h"
#include "sip/txn/clock.h"
#include "sip/txn/timer_service.h"
#include "support/sip_text.h"

namespace herald::sip::txn {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

using test::parse_lf;

Message parse_file(const std::string& name) {
  std::ifstream in(std::string(HERALD_TEST_DATA_DIR) + "/torture/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  std::stringstream ss;
  ss << in.rdbuf();
  auto parsed = parse_message(ss.str());
  EXPECT_TRUE(parsed.ok()) << parsed.why();
  return parsed.ok() ? std::move(parsed).value() : Message{};
}

transport::Source udp_source() {
  transport::Source s;
  s.protocol = transport::Protocol::kUdp;
  s.remote_address = boost::asio::ip::make_address("192.0.2.1");
  s.remote_port = 5060;
  s.local_address = boost::asio::ip::make_address("192.0.2.100");
  s.local_port = 5060;
  return s;
}

transport::Source tcp_source() {
  transport::Source s = udp_source();
  s.protocol = transport::Protocol::kTcp;
  s.remote_port = 40000;
  s.connection = transport::ConnectionId{7};
  return s;
}

transport::Destination udp_destination() {
  return {transport::Protocol::kUdp, boost::asio::ip::make_address("192.0.2.2"), 5060, {}};
}

std::string request_text(std::string_view method, std::string_view branch,
                         std::string_view cseq_method = {}, std::string_view to_tag = {}) {
  std::string text(method);
  text += " sip:bob@example.com SIP/2.0\n";
  text += "Via: SIP/2.0/UDP PC33.Example.com:5060;branch=" + std::string(branch) + "\n";
  text += "Max-Forwards: 70\n";
  text += "To: Bob <sip:bob@example.com>";
  if (!to_tag.empty()) text += ";tag=" + std::string(to_tag);
  text += "\nFrom: Alice <sip:alice@example.com>;tag=1928301774\n";
  text += "Call-ID: a84b4c76e66710@pc33.example.com\n";
  text += "CSeq: 314159 " + std::string(cseq_method.empty() ? method : cseq_method) + "\n";
  text += "Content-Length: 0\n\n";
  return text;
}

Message request(std::string_view method, std::string_view branch = "z9hG4bK776asdhds",
                std::string_view cseq_method = {}, std::string_view to_tag = {}) {
  return parse_lf(request_text(method, branch, cseq_method, to_tag));
}

// A message as it crosses the wire: serialized and parsed again.
Message on_wire(const Message& message) { return parse_message(serialize(message)).value(); }

struct Sent {
  Message message;
  Duration at;
  bool response = false;
};

class FakeSender : public MessageSender {
 public:
  explicit FakeSender(const ManualClock& clock) : clock_(clock) {}

  void send_response(const Message& response, const transport::Source& source,
                     SendDone done) override {
    sent.push_back({response, clock_.now().time_since_epoch(), true});
    last_source = source;
    complete(std::move(done));
  }
  void send_request(const Message& request, const transport::Destination& to,
                    SendDone done) override {
    sent.push_back({request, clock_.now().time_since_epoch(), false});
    last_destination = to;
    complete(std::move(done));
  }

  // Times of sent messages with this status code (responses) or method name (requests).
  std::vector<Duration> times_of(int status) const {
    std::vector<Duration> times;
    for (const Sent& s : sent) {
      if (s.response && s.message.status_code() == status) times.push_back(s.at);
    }
    return times;
  }
  std::vector<Duration> times_of(std::string_view method) const {
    std::vector<Duration> times;
    for (const Sent& s : sent) {
      if (!s.response && s.message.method_name() == method) times.push_back(s.at);
    }
    return times;
  }

  std::vector<Sent> sent;
  transport::Source last_source;
  transport::Destination last_destination;
  boost::system::error_code fail_with;  // completion result
  bool complete_inline = false;         // call done from inside send_*()
  std::vector<SendDone> pending;

 private:
  void complete(SendDone done) {
    if (complete_inline) {
      done(fail_with);
    } else {
      pending.push_back(std::move(done));
    }
  }
  const ManualClock& clock_;
};

struct ReceivedRequest {
  ServerTransactionId id;
  Message request;
};

class FakeTu : public TransactionUser {
 public:
  void on_request(ServerTransactionId id, const Message& request,
                  const transport::Source&) override {
    requests.push_back({id, request});
    if (on_request_hook) on_request_hook(id, request);
  }
  void on_ack(const Message& ack, const transport::Source&) override { acks.push_back(ack); }
  void on_stray_response(const Message& response, const transport::Source&) override {
    strays.push_back(response);
  }
  void on_server_transaction_failed(ServerTransactionId id) override { failed.push_back(id); }
  bool on_stateless_request(const Message& request, std::string_view /*key*/, const transport::Source& source) override {
    return stateless_hook && stateless_hook(request, source);
  }

  std::vector<ReceivedRequest> requests;
  std::vector<Message> acks;
  std::vector<Message> strays;
  std::vector<ServerTransactionId> failed;
  std::function<void(ServerTransactionId, const Message&)> on_request_hook;
  // Answers a request without a transaction when it returns true.
  std::function<bool(const Message&, const transport::Source&)> stateless_hook;
};

class TransactionLayerTest : public ::testing::Test {
 protected:
  void advance(Duration by) { run_until(service_, clock_, clock_.now() + by); }
  Duration now() const { return clock_.now().time_since_epoch(); }
  // Completes every send the fake holds with `error`.
  void complete_sends(const boost::system::error_code& error = {}) {
    auto pending = std::move(sender_.pending);
    sender_.pending.clear();
    for (auto& done : pending) done(error);
  }

  ManualClock clock_;
  TimerService service_{clock_};
  FakeSender sender_{clock_};
  FakeTu tu_;
  TransactionLayer layer_{service_, sender_, tu_, TransactionLayerConfig{TimerValues{}, 3}};
};

std::vector<Duration> at(std::initializer_list<int> ms) {
  std::vector<Duration> times;
  for (int m : ms) times.push_back(milliseconds(m));
  return times;
}

// ---- server non-INVITE

TEST_F(TransactionLayerTest, NonInviteRetransmissionsAbsorbedThenAnsweredThenNewAfterTimerJ) {
  const Message options = request("OPTIONS");
  layer_.receive(options, udp_source());
  ASSERT_EQ(tu_.requests.size(), 1u);
  const ServerTransactionId id = tu_.requests[0].id;
  EXPECT_NE(id, 0u);
  EXPECT_EQ(layer_.server_transactions(), 1u);
  ASSERT_NE(layer_.request_of(id), nullptr);
  EXPECT_EQ(layer_.request_of(id)->method(), Method::kOptions);

  layer_.receive(options, udp_source());  // retransmission before the TU answered: absorbed
  EXPECT_EQ(tu_.requests.size(), 1u);
  EXPECT_TRUE(sender_.sent.empty());

  EXPECT_TRUE(layer_.respond(id, make_response(options, 200, "", "t1")));
  ASSERT_EQ(sender_.sent.size(), 1u);
  EXPECT_EQ(sender_.sent[0].message.status_code(), 200);
  EXPECT_EQ(sender_.last_source.remote_port, 5060);

  // Completed: the request and the messages go, the final response's bytes stay.
  EXPECT_EQ(layer_.request_of(id), nullptr);

  advance(seconds(10));
  layer_.receive(options, udp_source());  // retransmission: the 200 again
  ASSERT_EQ(sender_.sent.size(), 2u);
  EXPECT_EQ(sender_.sent[1].message.status_code(), 200);
  EXPECT_EQ(serialize(sender_.sent[1].message), serialize(sender_.sent[0].message));
  EXPECT_EQ(sender_.last_source.remote_port, 5060);
  EXPECT_EQ(tu_.requests.size(), 1u);

  advance(seconds(23));  // Timer J (32 s) has fired
  EXPECT_EQ(layer_.server_transactions(), 0u);
  EXPECT_EQ(layer_.request_of(id), nullptr);
  EXPECT_FALSE(layer_.respond(id, make_response(options, 200, "")));
  EXPECT_TRUE(service_.empty());

  layer_.receive(options, udp_source());  // now a new transaction
  ASSERT_EQ(tu_.requests.size(), 2u);
  EXPECT_NE(tu_.requests[1].id, id);
}

// RFC 4320 §4.2: a TU that cannot answer in time sends nothing; the transaction absorbs the
// request's retransmissions until Timer J, then ends.
TEST_F(TransactionLayerTest, AnAbandonedNonInviteAbsorbsRetransmissionsWithoutAnswering) {
  const Message options = request("OPTIONS");
  layer_.receive(options, udp_source());
  const ServerTransactionId id = tu_.requests.at(0).id;
  EXPECT_TRUE(layer_.abandon(id));
  EXPECT_FALSE(layer_.abandon(id));  // once
  EXPECT_EQ(layer_.request_of(id), nullptr);  // nothing kept
  layer_.receive(options, udp_source());
  EXPECT_TRUE(sender_.sent.empty());
  EXPECT_EQ(tu_.requests.size(), 1u);
  layer_.respond(id, make_response(options, 200, "", "late"));  // too late: dropped
  EXPECT_TRUE(sender_.sent.empty());
  advance(seconds(33));
  EXPECT_EQ(layer_.server_transactions(), 0u);
  EXPECT_TRUE(service_.empty());

  // An INVITE cannot be abandoned (its TU always answers).
  layer_.receive(request("INVITE", "z9hG4bKinvite"), udp_source());
  EXPECT_FALSE(layer_.abandon(tu_.requests.back().id));
}

// A TU that gives up on a client INVITE in Proceeding (a proxy after Timer C and a CANCEL
// left unanswered) ends it: no timer of its own would.
TEST_F(TransactionLayerTest, AClientTransactionInProceedingCanBeTerminated) {
  const Message invite = request("INVITE", layer_.new_branch());
  int responses = 0;
  const ClientTransactionId id =
      layer_.send_request(invite, udp_destination(), {[&](const Message&) { ++responses; }, nullptr, nullptr});
  layer_.receive(on_wire(make_response(invite, 180, "", "uas")), udp_source());
  advance(seconds(300));
  EXPECT_EQ(layer_.client_transactions(), 1u);  // Proceeding: nothing ends it
  EXPECT_TRUE(layer_.terminate(id));
  EXPECT_EQ(layer_.client_transactions(), 0u);
  EXPECT_TRUE(service_.empty());
  layer_.receive(on_wire(make_response(invite, 486, "", "uas")), udp_source());
  EXPECT_EQ(responses, 1);  // the late final is stray
  EXPECT_EQ(tu_.strays.size(), 1u);
  EXPECT_FALSE(layer_.terminate(id));
}

TEST_F(TransactionLayerTest, CompletedNonInviteResendsItsFinalResponseByteForByte) {
  // The response a completed transaction keeps as bytes is what the TU sent: extra headers,
  // an unknown one, a body, each retransmission of the request answered with the same text.
  const Message message = request("MESSAGE");
  layer_.receive(message, udp_source());
  ASSERT_EQ(tu_.requests.size(), 1u);
  Message busy = make_response(message, 486, "Busy Here", "t7");
  busy.append(HeaderId::kRetryAfter, "30");
  busy.append("X-Reason", "in a meeting");
  busy.set_body("text/plain", "back at four");
  ASSERT_TRUE(layer_.respond(tu_.requests[0].id, busy));
  for (int copy = 0; copy < 3; ++copy) layer_.receive(message, udp_source());
  ASSERT_EQ(sender_.sent.size(), 4u);
  for (const Sent& sent : sender_.sent) EXPECT_EQ(serialize(sent.message), serialize(busy));
  EXPECT_EQ(tu_.requests.size(), 1u);
  complete_sends(boost::asio::error::connection_refused);  // a resend fails: reported once
  EXPECT_EQ(tu_.failed.size(), 1u);
  EXPECT_EQ(layer_.server_transactions(), 0u);
}

TEST_F(TransactionLayerTest, StatelessAnswersKeepNothingAndEveryCopyReachesTheTu) {
  // RFC 3261 §8.2.7: a TU that answers without a transaction sees each retransmission as a
  // new request (and must answer it as it did the original); OPTIONS here stays stateful.
  int stateless = 0;
  tu_.stateless_hook = [&](const Message& req, const transport::Source& source) {
    if (req.method() != Method::kRegister) return false;
    ++stateless;
    layer_.send_stateless(make_response(req, 200, "", "t1"), source);
    return true;
  };
  const Message reg = request("REGISTER");
  layer_.receive(reg, udp_source());
  layer_.receive(reg, udp_source());  // a retransmission: answered again by the TU
  EXPECT_EQ(stateless, 2);
  EXPECT_TRUE(tu_.requests.empty());
  EXPECT_EQ(layer_.server_transactions(), 0u);
  EXPECT_TRUE(service_.empty());  // no timer either
  ASSERT_EQ(sender_.sent.size(), 2u);
  EXPECT_EQ(sender_.sent[1].message.status_code(), 200);
  EXPECT_EQ(sender_.last_source.remote_port, 5060);

  layer_.receive(request("OPTIONS"), udp_source());  // the hook said no: a transaction
  EXPECT_EQ(tu_.requests.size(), 1u);
  EXPECT_EQ(layer_.server_transactions(), 1u);
}

TEST_F(TransactionLayerTest, PresizedTablesMatchEveryTransactionAlsoPastTheirBuckets) {
  // A server's layer reserves its buckets up front (4 transactions a bucket); 16 buckets
  // here, so that 500 transactions also take it through growth.
  TransactionLayerConfig config{TimerValues{}, 3};
  config.presized_buckets = 16;
  TransactionLayer layer{service_, sender_, tu_, config};
  constexpr int kCount = 500;
  std::vector<Message> requests;
  for (int i = 0; i < kCount; ++i) requests.push_back(request("OPTIONS", "z9hG4bK-presized-" + std::to_string(i)));
  for (const Message& r : requests) layer.receive(r, udp_source());
  ASSERT_EQ(tu_.requests.size(), static_cast<std::size_t>(kCount));
  for (int i = 0; i < kCount; ++i) {
    EXPECT_TRUE(layer.respond(tu_.requests[i].id, make_response(requests[i], 200, "", "t1")));
  }
  EXPECT_EQ(layer.server_transactions(), static_cast<std::size_t>(kCount));
  for (const Message& r : requests) layer.receive(r, udp_source());  // every one a retransmission
  EXPECT_EQ(tu_.requests.size(), static_cast<std::size_t>(kCount));
  EXPECT_EQ(sender_.sent.size(), static_cast<std::size_t>(2 * kCount));
}

TEST_F(TransactionLayerTest, NonInviteOverTcpEndsAtOnceAfterFinal) {
  const Message options = request("OPTIONS");
  layer_.receive(options, tcp_source());
  ASSERT_EQ(tu_.requests.size(), 1u);
  EXPECT_TRUE(layer_.respond(tu_.requests[0].id, make_response(options, 200, "")));
  EXPECT_EQ(layer_.server_transactions(), 0u);
  EXPECT_TRUE(service_.empty());
}

TEST_F(TransactionLayerTest, RespondRejectsARequest) {
  const Message options = request("OPTIONS");
  layer_.receive(options, udp_source());
  EXPECT_FALSE(layer_.respond(tu_.requests[0].id, options));
  EXPECT_TRUE(sender_.sent.empty());
}

// ---- server INVITE

TEST_F(TransactionLayerTest, InviteGetsTryingAtOnceAndFinalRetransmittedOnTimerGUntilAck) {
  const Message invite = request("INVITE");
  layer_.receive(invite, udp_source());
  ASSERT_EQ(tu_.requests.size(), 1u);
  ASSERT_EQ(sender_.sent.size(), 1u);
  EXPECT_EQ(sender_.sent[0].message.status_code(), 100);
  const ServerTransactionId id = tu_.requests[0].id;

  layer_.receive(invite, udp_source());  // retransmission in Proceeding: the 100 again
  EXPECT_EQ(sender_.times_of(100).size(), 2u);
  EXPECT_EQ(tu_.requests.size(), 1u);

  EXPECT_TRUE(layer_.respond(id, make_response(invite, 486, "", "uas-tag")));
  advance(milliseconds(11600));
  EXPECT_EQ(sender_.times_of(486), at({0, 500, 1500, 3500, 7500, 11500}));

  layer_.receive(invite, udp_source());  // INVITE retransmission in Completed: 486 again
  EXPECT_EQ(sender_.times_of(486).size(), 7u);

  const Message ack = on_wire(make_ack(invite, make_response(invite, 486, "", "uas-tag")));
  layer_.receive(ack, udp_source());
  EXPECT_TRUE(tu_.acks.empty());  // absorbed by the transaction
  advance(seconds(30));
  EXPECT_EQ(sender_.times_of(486).size(), 7u);
  EXPECT_TRUE(tu_.failed.empty());
  EXPECT_EQ(layer_.server_transactions(), 0u);  // Timer I (5 s) has fired
  EXPECT_TRUE(service_.empty());
}

TEST_F(TransactionLayerTest, TimerHWithoutAckFailsTheTransaction) {
  const Message invite = request("INVITE");
  layer_.receive(invite, udp_source());
  const ServerTransactionId id = tu_.requests.at(0).id;
  layer_.respond(id, make_response(invite, 486, "", "x"));
  advance(milliseconds(31999));
  EXPECT_TRUE(tu_.failed.empty());
  advance(milliseconds(1));
  EXPECT_EQ(tu_.failed, std::vector<ServerTransactionId>{id});
  EXPECT_EQ(layer_.server_transactions(), 0u);
  EXPECT_TRUE(service_.empty());
}

TEST_F(TransactionLayerTest, InviteOverTcpHasNoRetransmissions) {
  const Message invite = request("INVITE");
  layer_.receive(invite, tcp_source());
  ASSERT_EQ(sender_.times_of(100).size(), 1u);
  layer_.respond(tu_.requests.at(0).id, make_response(invite, 486, "", "x"));
  advance(seconds(20));
  EXPECT_EQ(sender_.times_of(486).size(), 1u);
  layer_.receive(on_wire(make_ack(invite, make_response(invite, 486, "", "x"))), tcp_source());
  EXPECT_EQ(layer_.server_transactions(), 0u);  // Timer I is zero on TCP
  EXPECT_TRUE(tu_.failed.empty());
  EXPECT_TRUE(service_.empty());
}

TEST_F(TransactionLayerTest, TwoHundredToInviteEntersAcceptedAndAckGoesToTu) {
  const Message invite = request("INVITE");
  layer_.receive(invite, udp_source());
  const ServerTransactionId id = tu_.requests.at(0).id;
  layer_.respond(id, make_response(invite, 200, "", "uas"));
  EXPECT_EQ(sender_.times_of(200).size(), 1u);
  EXPECT_EQ(layer_.server_transactions(), 1u);  // Accepted

  layer_.receive(invite, udp_source());  // absorbed in Accepted: not a new request
  EXPECT_EQ(tu_.requests.size(), 1u);
  EXPECT_EQ(sender_.times_of(200).size(), 1u);

  // The ACK for a 2xx is its own transaction (new branch): no match, to the TU.
  layer_.receive(request("ACK", "z9hG4bKack2xx", "", "uas"), udp_source());
  ASSERT_EQ(tu_.acks.size(), 1u);
  // With the INVITE's branch (as a proxy may see it), Accepted passes it up too.
  layer_.receive(request("ACK", "z9hG4bK776asdhds", "", "uas"), udp_source());
  EXPECT_EQ(tu_.acks.size(), 2u);

  EXPECT_TRUE(layer_.respond(id, make_response(invite, 200, "", "uas")));  // 2xx retransmit
  EXPECT_EQ(sender_.times_of(200).size(), 2u);

  advance(seconds(32));  // Timer L
  EXPECT_EQ(layer_.server_transactions(), 0u);
  EXPECT_TRUE(tu_.failed.empty());
}

TEST_F(TransactionLayerTest, CancelHasItsOwnTransactionAndFindsTheInvite) {
  const Message invite = request("INVITE");
  layer_.receive(invite, udp_source());
  const ServerTransactionId invite_id = tu_.requests.at(0).id;
  const Message cancel = request("CANCEL");
  layer_.receive(cancel, udp_source());
  ASSERT_EQ(tu_.requests.size(), 2u);
  const ServerTransactionId cancel_id = tu_.requests[1].id;
  EXPECT_NE(cancel_id, invite_id);
  EXPECT_EQ(tu_.requests[1].request.method(), Method::kCancel);
  EXPECT_EQ(layer_.server_transactions(), 2u);
  EXPECT_EQ(layer_.find_invite_for_cancel(cancel), invite_id);
  EXPECT_EQ(layer_.find_invite_for_cancel(request("CANCEL", "z9hG4bKother")), std::nullopt);

  layer_.respond(cancel_id, make_response(cancel, 200, ""));
  layer_.respond(invite_id, make_response(invite, 487, "", "t"));
  EXPECT_EQ(sender_.times_of(200).size(), 1u);
  EXPECT_EQ(sender_.times_of(487).size(), 1u);
}

TEST_F(TransactionLayerTest, SentByHostIsCaseInsensitiveForMatching) {
  layer_.receive(request("OPTIONS"), udp_source());
  std::string text = request_text("OPTIONS", "z9hG4bK776asdhds");
  text.replace(text.find("PC33.Example.com"), 16, "pc33.example.COM");
  layer_.receive(parse_lf(text), udp_source());
  EXPECT_EQ(tu_.requests.size(), 1u);
}

// ---- RFC 2543 matching

TEST_F(TransactionLayerTest, Rfc2543InviteWithoutBranchIsMatched) {
  const Message invite = parse_file("inv2543.dat");
  layer_.receive(invite, udp_source());
  ASSERT_EQ(tu_.requests.size(), 1u);
  const ServerTransactionId id = tu_.requests[0].id;
  layer_.receive(parse_file("inv2543.dat"), udp_source());
  EXPECT_EQ(tu_.requests.size(), 1u);
  EXPECT_EQ(sender_.times_of(100).size(), 2u);

  // A CANCEL without To tag finds it.
  std::string cancel_text = serialize(invite);
  cancel_text.replace(0, 6, "CANCEL");
  cancel_text.replace(cancel_text.find("56 INVITE"), 9, "56 CANCEL");
  EXPECT_EQ(layer_.find_invite_for_cancel(parse_lf(cancel_text)), id);

  layer_.respond(id, make_response(invite, 486, "", "uas2543"));
  // The ACK carries our To tag, which the INVITE did not have: still matched.
  const Message ack = on_wire(make_ack(invite, make_response(invite, 486, "", "uas2543")));
  layer_.receive(ack, udp_source());
  EXPECT_TRUE(tu_.acks.empty());
  advance(seconds(40));
  EXPECT_EQ(sender_.times_of(486).size(), 1u);  // no Timer G retransmission after the ACK
  EXPECT_TRUE(tu_.failed.empty());
  EXPECT_EQ(layer_.server_transactions(), 0u);
}

TEST_F(TransactionLayerTest, Rfc2543AckForTwoHundredGoesToTuThroughAccepted) {
  const Message invite = parse_file("inv2543.dat");
  layer_.receive(invite, udp_source());
  const ServerTransactionId id = tu_.requests.at(0).id;
  layer_.respond(id, make_response(invite, 200, "", "uas2543"));
  layer_.receive(on_wire(make_ack(invite, make_response(invite, 200, "", "uas2543"))),
                 udp_source());
  ASSERT_EQ(tu_.acks.size(), 1u);
  EXPECT_EQ(tu_.acks[0].get<hdr::To>()->tag(), std::optional<std::string_view>("uas2543"));
  EXPECT_EQ(layer_.server_transactions(), 1u);  // Accepted until Timer L
}

TEST_F(TransactionLayerTest, BranchThatIsOnlyTheCookieIsMatchedAsRfc2543) {
  const Message options = parse_file("badbranch.dat");
  layer_.receive(options, udp_source());
  layer_.receive(parse_file("badbranch.dat"), udp_source());
  EXPECT_EQ(tu_.requests.size(), 1u);
  // Same cookie-only branch, another Call-ID: another transaction.
  std::string other = serialize(options);
  other.replace(other.find("badbranch.sadonfo"), 9, "otherbran");
  layer_.receive(parse_lf(other), udp_source());
  EXPECT_EQ(tu_.requests.size(), 2u);
}

TEST_F(TransactionLayerTest, MessagesWithoutViaAreDropped) {
  std::string text = request_text("OPTIONS", "z9hG4bKx");
  text.erase(text.find("Via:"), text.find("Max-Forwards") - text.find("Via:"));
  layer_.receive(parse_lf(text), udp_source());
  EXPECT_TRUE(tu_.requests.empty());
  EXPECT_EQ(layer_.server_transactions(), 0u);
}

// ---- re-entrancy and transport errors

TEST_F(TransactionLayerTest, TuMayRespondFromInsideOnRequest) {
  tu_.on_request_hook = [this](ServerTransactionId id, const Message& req) {
    EXPECT_NE(layer_.request_of(id), nullptr);
    EXPECT_TRUE(layer_.respond(id, make_response(req, 486, "", "x")));
  };
  layer_.receive(request("INVITE"), udp_source());
  ASSERT_EQ(sender_.sent.size(), 2u);
  EXPECT_EQ(sender_.sent[0].message.status_code(), 100);
  EXPECT_EQ(sender_.sent[1].message.status_code(), 486);
}

TEST_F(TransactionLayerTest, TransportErrorFailsTheServerTransaction) {
  sender_.complete_inline = true;
  sender_.fail_with = boost::asio::error::connection_refused;
  const Message options = request("OPTIONS");
  layer_.receive(options, udp_source());
  const ServerTransactionId id = tu_.requests.at(0).id;
  layer_.respond(id, make_response(options, 200, ""));
  EXPECT_EQ(tu_.failed, std::vector<ServerTransactionId>{id});
  EXPECT_EQ(layer_.server_transactions(), 0u);
  EXPECT_TRUE(service_.empty());
}

TEST_F(TransactionLayerTest, LateSendCompletionAfterTransactionEndedIsHarmless) {
  const Message options = request("OPTIONS");
  layer_.receive(options, tcp_source());
  layer_.respond(tu_.requests.at(0).id, make_response(options, 200, ""));
  EXPECT_EQ(layer_.server_transactions(), 0u);
  complete_sends(boost::asio::error::broken_pipe);
  EXPECT_TRUE(tu_.failed.empty());
}

// ---- client transactions

TEST_F(TransactionLayerTest, ClientNonInviteRetransmitsUntilResponse) {
  const Message options = request("OPTIONS", layer_.new_branch());
  std::vector<int> responses;
  const ClientTransactionId id =
      layer_.send_request(options, udp_destination(),
                          {[&](const Message& r) { responses.push_back(r.status_code()); },
                           [] { FAIL(); }, [](const boost::system::error_code&) { FAIL(); }});
  EXPECT_NE(id, 0u);
  EXPECT_EQ(layer_.client_transactions(), 1u);
  advance(milliseconds(11600));
  EXPECT_EQ(sender_.times_of("OPTIONS"), at({0, 500, 1500, 3500, 7500, 11500}));
  EXPECT_EQ(sender_.last_destination.port, 5060);

  layer_.receive(on_wire(make_response(options, 200, "", "t")), udp_source());
  EXPECT_EQ(responses, std::vector<int>{200});
  layer_.receive(on_wire(make_response(options, 200, "", "t")), udp_source());  // absorbed
  EXPECT_EQ(responses, std::vector<int>{200});
  advance(seconds(10));
  EXPECT_EQ(sender_.times_of("OPTIONS").size(), 6u);
  EXPECT_EQ(layer_.client_transactions(), 0u);  // Timer K
  EXPECT_TRUE(tu_.strays.empty());
  EXPECT_TRUE(service_.empty());
}

// Completed until Timer K, the transaction only absorbs copies of its final response: what it
// held for sending and reporting (the request, the callbacks) is let go with the final.
TEST_F(TransactionLayerTest, ClientNonInviteLetsGoOfItsCallbacksWithTheFinalResponse) {
  const Message options = request("OPTIONS", layer_.new_branch());
  auto token = std::make_shared<int>(0);
  std::vector<int> responses;
  layer_.send_request(options, udp_destination(),
                      {[&responses, token](const Message& r) { responses.push_back(r.status_code()); },
                       [token] { FAIL(); }, [token](const boost::system::error_code&) { FAIL(); }});
  EXPECT_EQ(token.use_count(), 4);
  layer_.receive(on_wire(make_response(options, 100, "")), udp_source());
  EXPECT_EQ(token.use_count(), 4);  // still proceeding: it may retransmit and time out
  layer_.receive(on_wire(make_response(options, 200, "", "t")), udp_source());
  EXPECT_EQ(responses, (std::vector<int>{100, 200}));
  EXPECT_EQ(layer_.client_transactions(), 1u);  // completed, until Timer K
  EXPECT_EQ(token.use_count(), 1);
  layer_.receive(on_wire(make_response(options, 200, "", "t")), udp_source());  // absorbed
  advance(seconds(1));
  EXPECT_EQ(responses, (std::vector<int>{100, 200}));
  EXPECT_EQ(sender_.times_of("OPTIONS"), at({0}));
  EXPECT_TRUE(tu_.strays.empty());
  advance(seconds(5));
  EXPECT_EQ(layer_.client_transactions(), 0u);
  EXPECT_TRUE(service_.empty());
}

TEST_F(TransactionLayerTest, ClientNonInviteTimesOutOnTimerF) {
  int timeouts = 0;
  layer_.send_request(request("OPTIONS", layer_.new_branch()), udp_destination(),
                      {nullptr, [&] { ++timeouts; }, nullptr});
  advance(milliseconds(31999));
  EXPECT_EQ(timeouts, 0);
  advance(milliseconds(1));
  EXPECT_EQ(timeouts, 1);
  EXPECT_EQ(sender_.times_of("OPTIONS"),
            at({0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500}));
  EXPECT_EQ(layer_.client_transactions(), 0u);
  EXPECT_TRUE(service_.empty());
}

// An INVITE's transaction keeps its request after a non-2xx final: each copy of that final is
// acknowledged from it.
TEST_F(TransactionLayerTest, ClientInviteAcksEachNonTwoHundredFinalAndDeliversItOnce) {
  std::string text = request_text("INVITE", layer_.new_branch());
  text.insert(text.find("To:"), "Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\n");
  const Message invite = parse_lf(text);
  std::vector<int> responses;
  layer_.send_request(
      invite, udp_destination(),
      {[&](const Message& r) { responses.push_back(r.status_code()); }, nullptr, nullptr});
  ASSERT_EQ(sender_.times_of("INVITE").size(), 1u);
  layer_.receive(on_wire(make_response(invite, 180, "", "uas")), udp_source());
  layer_.receive(on_wire(make_response(invite, 486, "", "uas")), udp_source());
  EXPECT_EQ(responses, (std::vector<int>{180, 486}));
  ASSERT_EQ(sender_.times_of("ACK").size(), 1u);

  const Message ack = on_wire(sender_.sent.back().message);
  EXPECT_EQ(ack.method(), Method::kAck);
  EXPECT_EQ(ack.request_uri_text(), "sip:bob@example.com");
  EXPECT_EQ(ack.count(HeaderId::kVia), 1u);
  EXPECT_EQ(ack.get<hdr::Via>()->branch(), invite.get<hdr::Via>()->branch());
  EXPECT_EQ(ack.find(HeaderId::kFrom)->value, invite.find(HeaderId::kFrom)->value);
  EXPECT_EQ(ack.get<hdr::To>()->tag(), std::optional<std::string_view>("uas"));
  EXPECT_EQ(ack.find(HeaderId::kCallId)->value, invite.find(HeaderId::kCallId)->value);
  EXPECT_EQ(ack.get<hdr::CSeq>()->number, 314159u);
  EXPECT_EQ(ack.get<hdr::CSeq>()->method, Method::kAck);
  EXPECT_EQ(ack.get<hdr::MaxForwards>().value_or(0), 70u);
  EXPECT_EQ(ack.get<hdr::ContentLength>().value_or(1), 0u);
  EXPECT_EQ(ack.get_all<hdr::Route>()->size(), 2u);
  EXPECT_EQ(sender_.last_destination.address, udp_destination().address);

  layer_.receive(on_wire(make_response(invite, 486, "", "uas")), udp_source());
  EXPECT_EQ(sender_.times_of("ACK").size(), 2u);
  EXPECT_EQ(responses, (std::vector<int>{180, 486}));
  advance(seconds(40));
  EXPECT_EQ(sender_.times_of("INVITE").size(), 1u);  // Proceeding stopped Timer A
  EXPECT_EQ(layer_.client_transactions(), 0u);       // Timer D
  EXPECT_TRUE(service_.empty());
}

TEST_F(TransactionLayerTest, ClientInviteRetransmitsOnTimerAAndTimesOutOnTimerB) {
  int timeouts = 0;
  layer_.send_request(request("INVITE", layer_.new_branch()), udp_destination(),
                      {nullptr, [&] { ++timeouts; }, nullptr});
  advance(seconds(32));
  EXPECT_EQ(sender_.times_of("INVITE"), at({0, 500, 1500, 3500, 7500, 15500, 31500}));
  EXPECT_EQ(timeouts, 1);
  EXPECT_EQ(layer_.client_transactions(), 0u);
}

TEST_F(TransactionLayerTest, ClientNonInviteOverTcpDoesNotRetransmit) {
  transport::Destination tcp = udp_destination();
  tcp.protocol = transport::Protocol::kTcp;
  const Message options = request("OPTIONS", layer_.new_branch());
  int responses = 0;
  layer_.send_request(options, tcp, {[&](const Message&) { ++responses; }, nullptr, nullptr});
  advance(seconds(20));
  EXPECT_EQ(sender_.times_of("OPTIONS").size(), 1u);
  layer_.receive(on_wire(make_response(options, 200, "")), tcp_source());
  EXPECT_EQ(responses, 1);
  EXPECT_EQ(layer_.client_transactions(), 0u);  // Timer K is zero on TCP
  EXPECT_TRUE(service_.empty());
}

TEST_F(TransactionLayerTest, ClientTransportErrorIsReported) {
  sender_.complete_inline = true;
  sender_.fail_with = boost::asio::error::network_unreachable;
  boost::system::error_code seen;
  layer_.send_request(request("OPTIONS", layer_.new_branch()), udp_destination(),
                      {nullptr, nullptr, [&](const boost::system::error_code& e) { seen = e; }});
  EXPECT_EQ(seen, boost::asio::error::network_unreachable);
  EXPECT_EQ(layer_.client_transactions(), 0u);
  EXPECT_TRUE(service_.empty());
}

TEST_F(TransactionLayerTest, ClientCallbackMaySendAnotherRequest) {
  const Message first = request("OPTIONS", layer_.new_branch());
  ClientTransactionId second = 0;
  layer_.send_request(first, udp_destination(),
                      {[&](const Message&) {
                         second = layer_.send_request(request("OPTIONS", layer_.new_branch()),
                                                      udp_destination(), {});
                       },
                       nullptr, nullptr});
  layer_.receive(on_wire(make_response(first, 200, "")), udp_source());
  EXPECT_NE(second, 0u);
  EXPECT_EQ(sender_.times_of("OPTIONS").size(), 2u);
}

TEST_F(TransactionLayerTest, SendRequestRejectsUnkeyableAndDuplicateRequests) {
  const Message options = request("OPTIONS", layer_.new_branch());
  EXPECT_NE(layer_.send_request(options, udp_destination(), {}), 0u);
  EXPECT_EQ(layer_.send_request(options, udp_destination(), {}), 0u);
  std::string text = request_text("OPTIONS", "x");
  text.replace(text.find(";branch=x"), 9, "");
  EXPECT_EQ(layer_.send_request(parse_lf(text), udp_destination(), {}), 0u);
  EXPECT_EQ(layer_.client_transactions(), 1u);
}

TEST_F(TransactionLayerTest, UnmatchedResponseIsStray) {
  const Message options = request("OPTIONS", "z9hG4bKnobody");
  layer_.receive(on_wire(make_response(options, 200, "")), udp_source());
  ASSERT_EQ(tu_.strays.size(), 1u);
  EXPECT_EQ(tu_.strays[0].status_code(), 200);
  // A response to our INVITE's branch but another method does not match either.
  const Message invite = request("INVITE", layer_.new_branch());
  layer_.send_request(invite, udp_destination(), {});
  std::string text = serialize(make_response(invite, 200, ""));
  text.replace(text.find("314159 INVITE"), 13, "314159 CANCEL");
  layer_.receive(parse_lf(text), udp_source());
  EXPECT_EQ(tu_.strays.size(), 2u);
}

TEST_F(TransactionLayerTest, NewBranchesCarryCookieAndShardAndAreDistinct) {
  std::set<std::string> branches;
  for (int i = 0; i < 1000; ++i) {
    std::string branch = layer_.new_branch();
    EXPECT_EQ(branch.substr(0, 7), "z9hG4bK");
    ASSERT_EQ(branch.size(), std::string_view("z9hG4bK-3-").size() + 16u);  // the cookie, shard 3, 64 bits in hex
    EXPECT_EQ(branch.substr(0, 10), "z9hG4bK-3-");
    for (char c : branch.substr(10)) EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << branch;
    EXPECT_EQ(TransactionLayer::shard_of_branch(branch), 3u);
    branches.insert(branch);
  }
  EXPECT_EQ(branches.size(), 1000u);
  EXPECT_EQ(TransactionLayer::shard_of_branch("z9hG4bK776asdhds"), std::nullopt);
}

TEST_F(TransactionLayerTest, DestroyingTheLayerCancelsItsTimers) {
  {
    TransactionLayer layer(service_, sender_, tu_, {});
    layer.send_request(request("OPTIONS", layer.new_branch()), udp_destination(), {});
    layer.receive(request("INVITE"), udp_source());
    EXPECT_FALSE(service_.empty());
  }
  EXPECT_TRUE(service_.empty());
  complete_sends(boost::asio::error::broken_pipe);  // completions after the layer is gone
}

}  // namespace
}  // namespace herald::sip::txn
