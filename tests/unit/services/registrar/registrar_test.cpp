#include "services/registrar/registrar.h"

#include <gtest/gtest.h>

#include <boost/asio/ip/address.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "sip/msg/grammar.h"
#include "store/memory_store.h"
#include "sip/txn/clock.h"
#include "sip/txn/transaction_key.h"

namespace herald::services::registrar {
namespace {

using sip::HeaderId;
using sip::Message;

class RegistrarTest : public ::testing::Test {
 protected:
  RegistrarTest()
      : timers_(clock_),
        location_(timers_, &store_, [this] { return unix_now(); }),
        registrar_(config(), location_, [this](std::string_view aor) { return users_.count(std::string(aor)) > 0; }) {
    source_.protocol = sip::transport::Protocol::kUdp;
    source_.remote_address = boost::asio::ip::make_address("192.0.2.7");
    source_.remote_port = 5062;
  }

  static RegistrarConfig config() {
    RegistrarConfig c;
    c.min_expires = 60;
    c.max_expires = 7200;
    c.domains = {"example.com"};
    return c;
  }

  std::int64_t unix_now() const {
    return 1'700'000'000 + std::chrono::duration_cast<std::chrono::seconds>(clock_.now() - start_).count();
  }

  void advance(std::chrono::seconds s) { sip::txn::run_until(timers_, clock_, clock_.now() + s); }

  Message reg(const std::string& contacts, const std::string& extra = "", const std::string& call_id = "c1",
              int cseq = 1, const std::string& to = "sip:alice@example.com") {
    std::string text = "REGISTER sip:example.com SIP/2.0\r\n"
                       "Via: SIP/2.0/UDP 192.0.2.7:5062;branch=z9hG4bK" + std::to_string(++branch_) + "\r\n"
                       "Max-Forwards: 70\r\n"
                       "To: <" + to + ">\r\n"
                       "From: <" + to + ">;tag=f1\r\n"
                       "Call-ID: " + call_id + "\r\n"
                       "CSeq: " + std::to_string(cseq) + " REGISTER\r\n" + contacts + extra +
                       "Content-Length: 0\r\n\r\n";
    auto m = sip::parse_message(text);
    EXPECT_TRUE(m.ok()) << m.why();
    return std::move(m).value();
  }

  Message send(const Message& request, std::optional<std::string> identity = std::nullopt) {
    return registrar_.handle(request, source_, identity);
  }

  std::map<std::string, std::uint32_t> contacts_of(const Message& response) {
    std::map<std::string, std::uint32_t> out;
    response.for_each<sip::hdr::Contact>([&](const sip::ContactValue& c) {
      out[std::string(c.address.uri.text)] = c.expires().value_or(0);
      return true;
    });
    return out;
  }

  sip::txn::ManualClock clock_{sip::txn::TimePoint{} + std::chrono::hours(1)};
  sip::txn::TimePoint start_ = clock_.now();
  sip::txn::TimerService timers_;
  store::MemoryStore store_;
  LocationService location_;
  std::set<std::string> users_ = {"sip:alice@example.com", "sip:bob@example.com"};
  Registrar registrar_;
  sip::transport::Source source_;
  int branch_ = 0;
};

TEST_F(RegistrarTest, AddsBindingsAndListsThemWithRemainingExpiry) {
  Message r = send(reg("Contact: <sip:alice@192.0.2.7:5062>;expires=600\r\n"
                       "Contact: <sip:alice@198.51.100.1>\r\n",
                       "Expires: 1800\r\n"));
  EXPECT_EQ(r.status_code(), 200);
  EXPECT_EQ(contacts_of(r), (std::map<std::string, std::uint32_t>{{"sip:alice@192.0.2.7:5062", 600},
                                                                    {"sip:alice@198.51.100.1", 1800}}));
  EXPECT_TRUE(r.get<sip::hdr::Date>().ok());
  EXPECT_TRUE(r.get<sip::hdr::To>()->tag().has_value());
  advance(std::chrono::seconds(100));
  Message query = send(reg(""));  // no Contact: a query
  EXPECT_EQ(contacts_of(query), (std::map<std::string, std::uint32_t>{{"sip:alice@192.0.2.7:5062", 500},
                                                                        {"sip:alice@198.51.100.1", 1700}}));
  EXPECT_EQ(store_.load_bindings().value().size(), 2u);
}

TEST_F(RegistrarTest, PresizedTablesFindEveryBindingAlsoPastTheirBuckets) {
  location_.presize(4);  // a server reserves 131,072 buckets; 4 here, so that 300 bindings grow past them
  for (int i = 0; i < 300; ++i) {
    Message r = send(reg("Contact: <sip:alice@192.0.2.1:" + std::to_string(6000 + i) + ">\r\n", "",
                         "presized-" + std::to_string(i)));
    ASSERT_EQ(r.status_code(), 200);
  }
  EXPECT_EQ(location_.count("sip:alice@example.com"), 300u);
  for (int i = 0; i < 300; i += 37) {
    const std::string text = "sip:alice@192.0.2.1:" + std::to_string(6000 + i);  // the URI's views point here
    auto uri = sip::parse_uri(text);
    ASSERT_TRUE(uri.ok());
    EXPECT_NE(location_.find_by_contact(uri.value()), nullptr) << i;
  }
}

TEST_F(RegistrarTest, DefaultExpiryAndClampToMaximum) {
  EXPECT_EQ(contacts_of(send(reg("Contact: <sip:a@h1>\r\n")))["sip:a@h1"], 3600u);
  EXPECT_EQ(contacts_of(send(reg("Contact: <sip:a@h2>;expires=99999\r\n", "", "c2")))["sip:a@h2"], 7200u);
}

TEST_F(RegistrarTest, TooBriefIs423WithMinExpires) {
  Message r = send(reg("Contact: <sip:a@h>;expires=10\r\n"));
  EXPECT_EQ(r.status_code(), 423);
  EXPECT_EQ(r.get<sip::hdr::MinExpires>().value(), 60u);
  EXPECT_EQ(location_.binding_count(), 0u);
}

TEST_F(RegistrarTest, BindingsExpireOnTime) {
  send(reg("Contact: <sip:a@h>;expires=120\r\n"));
  advance(std::chrono::seconds(119));
  EXPECT_EQ(location_.binding_count(), 1u);
  advance(std::chrono::seconds(1));
  EXPECT_EQ(location_.binding_count(), 0u);
  EXPECT_TRUE(store_.load_bindings().value().empty());
}

TEST_F(RegistrarTest, ContactsAreFoundByUserHostAndPortAndObserversHearChanges) {
  std::vector<std::pair<std::string, bool>> changes;
  location_.observe([&](const std::string& aor, bool registered) { changes.emplace_back(aor, registered); });
  send(reg("Contact: <sip:dev@Host.example.net:5070;transport=tcp>;expires=120\r\n"));
  auto uri = sip::parse_uri("sip:dev@host.example.net:5070");
  ASSERT_TRUE(uri.ok());
  const store::Binding* found = location_.find_by_contact(uri.value());
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->aor, "sip:alice@example.com");
  EXPECT_EQ(location_.find_by_contact(sip::parse_uri("sip:dev@host.example.net").value()), nullptr);  // port
  EXPECT_EQ(location_.find_by_contact(sip::parse_uri("sip:other@host.example.net:5070").value()), nullptr);
  advance(std::chrono::seconds(120));
  EXPECT_EQ(location_.find_by_contact(uri.value()), nullptr);
  EXPECT_EQ(changes, (std::vector<std::pair<std::string, bool>>{{"sip:alice@example.com", true},
                                                                 {"sip:alice@example.com", false}}));
}

TEST_F(RegistrarTest, RefreshReplacesTheBindingAndRearmsItsTimer) {
  send(reg("Contact: <sip:a@h>;expires=120\r\n", "", "c1", 1));
  advance(std::chrono::seconds(100));
  send(reg("Contact: <sip:a@h>;expires=120\r\n", "", "c1", 2));
  advance(std::chrono::seconds(100));
  EXPECT_EQ(location_.binding_count(), 1u);  // the first timer no longer applies
  advance(std::chrono::seconds(20));
  EXPECT_EQ(location_.binding_count(), 0u);
}

TEST_F(RegistrarTest, OneTimerPerAorExpiresEachBindingOnItsOwnTime) {
  send(reg("Contact: <sip:a@h>;expires=300\r\nContact: <sip:b@h>;expires=120\r\nContact: <sip:c@h>;expires=200\r\n",
           "", "c1", 1));
  send(reg("Contact: <sip:d@h>;expires=600\r\n", "", "c1", 1, "sip:bob@example.com"));
  EXPECT_EQ(timers_.size(), 2u) << "one timer an AOR, not one a binding";
  advance(std::chrono::seconds(100));
  send(reg("Contact: <sip:b@h>;expires=300\r\n", "", "c1", 2));  // b now ends at 400
  EXPECT_EQ(timers_.size(), 2u);
  advance(std::chrono::seconds(20));  // 120: the timer armed for b finds nothing due
  EXPECT_EQ(location_.count("sip:alice@example.com"), 3u);
  advance(std::chrono::seconds(79));  // 199
  EXPECT_EQ(location_.count("sip:alice@example.com"), 3u);
  advance(std::chrono::seconds(1));  // 200: c
  EXPECT_EQ(contacts_of(send(reg("", "", "q1", 1))),
            (std::map<std::string, std::uint32_t>{{"sip:a@h", 100}, {"sip:b@h", 200}}));
  advance(std::chrono::seconds(100));  // 300: a
  EXPECT_EQ(location_.count("sip:alice@example.com"), 1u);
  advance(std::chrono::seconds(99));  // 399
  EXPECT_EQ(location_.count("sip:alice@example.com"), 1u);
  advance(std::chrono::seconds(1));  // 400: b, and alice's timer with it
  EXPECT_EQ(location_.count("sip:alice@example.com"), 0u);
  EXPECT_EQ(timers_.size(), 1u);
  EXPECT_EQ(location_.count("sip:bob@example.com"), 1u);
  advance(std::chrono::seconds(200));  // 600: d
  EXPECT_EQ(location_.binding_count(), 0u);
  EXPECT_TRUE(timers_.empty());
  EXPECT_TRUE(store_.load_bindings().value().empty());
}

TEST_F(RegistrarTest, RemovingAnAorsLastBindingCancelsItsTimer) {
  send(reg("Contact: <sip:a@h>;expires=300\r\n", "", "c1", 1));
  send(reg("Contact: <sip:b@h>;expires=300\r\n", "", "c1", 1, "sip:bob@example.com"));
  EXPECT_EQ(timers_.size(), 2u);
  send(reg("Contact: <sip:a@h>;expires=0\r\n", "", "c1", 2));
  EXPECT_EQ(timers_.size(), 1u);
  send(reg("Contact: *\r\n", "Expires: 0\r\n", "c1", 2, "sip:bob@example.com"));
  EXPECT_TRUE(timers_.empty());
}

TEST_F(RegistrarTest, ExpiresZeroRemovesOneContact) {
  send(reg("Contact: <sip:a@h1>\r\nContact: <sip:a@h2>\r\n"));
  Message r = send(reg("Contact: <sip:a@h1>;expires=0\r\n", "", "c1", 2));
  EXPECT_EQ(contacts_of(r).size(), 1u);
  EXPECT_EQ(contacts_of(r).count("sip:a@h2"), 1u);
}

TEST_F(RegistrarTest, AfterAMiddleContactIsRemovedTheOthersAreStillMatchedRefreshedAndFound) {
  send(reg("Contact: <sip:a@h1>\r\nContact: <sip:a@h2:5070>\r\nContact: <sip:a@h3>;expires=600\r\n"));
  send(reg("Contact: <sip:a@h2:5070>;expires=0\r\n", "", "c1", 2));
  // Equal to the third (host case), so a refresh of it, not a new binding.
  Message r = send(reg("Contact: <sip:a@H3>;expires=300\r\n", "", "c1", 3));
  EXPECT_EQ(contacts_of(r), (std::map<std::string, std::uint32_t>{{"sip:a@h1", 3600}, {"sip:a@h3", 300}}));
  EXPECT_EQ(location_.binding_count(), 2u);
  EXPECT_NE(location_.find("sip:alice@example.com", "sip:a@h1"), nullptr);
  EXPECT_EQ(location_.find("sip:alice@example.com", "sip:a@h2:5070"), nullptr);
  EXPECT_EQ(location_.find_by_contact(sip::parse_uri("sip:a@h2:5070").value()), nullptr);
  const store::Binding* third = location_.find_by_contact(sip::parse_uri("sip:a@h3").value());
  ASSERT_NE(third, nullptr);
  EXPECT_EQ(third->contact, "sip:a@h3");
  send(reg("Contact: <sip:a@h1>;expires=0\r\n", "", "c1", 4));
  EXPECT_EQ(location_.find_by_contact(sip::parse_uri("sip:a@h1").value()), nullptr);
  EXPECT_EQ(store_.load_bindings().value().size(), 1u);
}

TEST_F(RegistrarTest, StarWithExpiresZeroRemovesAll) {
  send(reg("Contact: <sip:a@h1>\r\nContact: <sip:a@h2>\r\n"));
  // The same Call-ID with a CSeq that is not higher is out of order for "*" too.
  Message stale = send(reg("Contact: *\r\n", "Expires: 0\r\n", "c1", 1));
  EXPECT_EQ(stale.status_code(), 500);
  EXPECT_TRUE(stale.get<sip::hdr::RetryAfter>().ok());
  EXPECT_EQ(location_.binding_count(), 2u);
  Message r = send(reg("Contact: *\r\n", "Expires: 0\r\n", "c1", 2));
  EXPECT_EQ(r.status_code(), 200);
  EXPECT_TRUE(contacts_of(r).empty());
  EXPECT_EQ(location_.binding_count(), 0u);
}

TEST_F(RegistrarTest, StarWithoutExpiresZeroIs400) {
  EXPECT_EQ(send(reg("Contact: *\r\n")).status_code(), 400);
  EXPECT_EQ(send(reg("Contact: *\r\n", "Expires: 60\r\n")).status_code(), 400);
  EXPECT_EQ(send(reg("Contact: *\r\nContact: <sip:a@h>\r\n", "Expires: 0\r\n")).status_code(), 400);
}

TEST_F(RegistrarTest, OutOfOrderRegisterIs500WithRetryAfterAndChangesNothing) {
  send(reg("Contact: <sip:a@h>;expires=600\r\n", "", "c1", 5));
  Message r = send(reg("Contact: <sip:a@h>;expires=0\r\n", "", "c1", 5));
  EXPECT_EQ(r.status_code(), 500);
  EXPECT_TRUE(r.get<sip::hdr::RetryAfter>().ok());
  EXPECT_EQ(location_.binding_count(), 1u);
  // Another Call-ID may update it whatever its CSeq.
  EXPECT_EQ(send(reg("Contact: <sip:a@h>;expires=0\r\n", "", "other", 1)).status_code(), 200);
  EXPECT_EQ(location_.binding_count(), 0u);
}

// As the server core answers a REGISTER without a transaction: a copy first, else judged.
Message stateless(Registrar& registrar, const Message& request, const sip::transport::Source& source) {
  const std::optional<Registrar::CopyKey> key = registrar.copy_key(request);
  EXPECT_TRUE(key.has_value());
  // The server core builds it from the transaction layer's key: the same text, the same key.
  EXPECT_EQ(registrar.copy_key(request, sip::txn::server_key(request).value()), key);
  if (auto copy = registrar.answer_copy(request, *key)) return std::move(*copy);
  return registrar.handle(request, source, std::nullopt, &*key);
}

TEST_F(RegistrarTest, StatelessRetransmissionIsAnsweredAsTheOriginalAndChangesNothing) {
  // RFC 3261 §8.2.7: without a transaction the copy reaches the registrar; judged again its
  // CSeq would not be higher than the binding's (500). It gets the 200 again, and nothing
  // changes.
  const int branch = branch_;
  const Message original = reg("Contact: <sip:a@h>;expires=600\r\n", "", "c1", 5);
  EXPECT_FALSE(registrar_.answer_copy(original, *registrar_.copy_key(original)).has_value());  // none yet
  const Message first = stateless(registrar_, original, source_);
  EXPECT_EQ(first.status_code(), 200);
  EXPECT_EQ(registrar_.remembered(), 1u);
  advance(std::chrono::seconds(10));
  Message again = stateless(registrar_, original, source_);
  EXPECT_EQ(again.status_code(), 200);
  // §8.2.6.2: the same To tag as the original's answer (and it is no constant).
  EXPECT_EQ(again.get<sip::hdr::To>()->tag(), first.get<sip::hdr::To>()->tag());
  EXPECT_NE(stateless(registrar_, reg("", "", "c9", 1), source_).get<sip::hdr::To>()->tag(),
            first.get<sip::hdr::To>()->tag());
  auto copy = registrar_.answer_copy(original, *registrar_.copy_key(original));
  ASSERT_TRUE(copy.has_value());
  EXPECT_EQ(copy->status_code(), 200);
  // The same branch with another To is no copy: knowing a branch reads no other AOR.
  branch_ = branch;
  const Message other_aor = reg("Contact: <sip:a@h>;expires=600\r\n", "", "c1", 5, "sip:bob@example.com");
  EXPECT_EQ(other_aor.get<sip::hdr::Via>()->branch(), original.get<sip::hdr::Via>()->branch());
  EXPECT_NE(registrar_.copy_key(other_aor), registrar_.copy_key(original));
  EXPECT_FALSE(registrar_.answer_copy(other_aor, *registrar_.copy_key(other_aor)).has_value());
  EXPECT_EQ(contacts_of(again), (std::map<std::string, std::uint32_t>{{"sip:a@h", 590}}));  // as they are now
  EXPECT_EQ(location_.binding_count(), 1u);
  EXPECT_EQ(location_.lookup("sip:alice@example.com").front().expires_at, unix_now() + 590);  // not refreshed

  // Another request with the same Call-ID and CSeq (another branch) is no copy: 500.
  Message other = stateless(registrar_, reg("Contact: <sip:a@h>;expires=0\r\n", "", "c1", 5), source_);
  EXPECT_EQ(other.status_code(), 500);
  EXPECT_EQ(location_.binding_count(), 1u);

  // Past the window (64 x T1, 32 s) the copy is judged again, as after Timer J.
  advance(std::chrono::seconds(23));
  EXPECT_EQ(stateless(registrar_, original, source_).status_code(), 500);
  EXPECT_EQ(registrar_.remembered(), 1u);  // only the query, accepted 10 s after it
}

TEST_F(RegistrarTest, CopyKeysAreEqualForCopiesAndKeyedWithTheRegistrarsSecret) {
  const Message original = reg("Contact: <sip:a@h>;expires=600\r\n", "", "c1", 5);
  const Message copy = sip::parse_message(sip::serialize(original)).value();
  EXPECT_EQ(registrar_.copy_key(copy), registrar_.copy_key(original));
  // Each part of the text counts: another CSeq, Call-ID or branch is another request.
  EXPECT_NE(registrar_.copy_key(reg("Contact: <sip:a@h>;expires=600\r\n", "", "c1", 6)), registrar_.copy_key(original));
  EXPECT_NE(registrar_.copy_key(reg("Contact: <sip:a@h>;expires=600\r\n", "", "c2", 5)), registrar_.copy_key(original));
  // Another registrar draws another secret: a peer cannot compute the keys.
  Registrar other(config(), location_, [](std::string_view) { return true; });
  EXPECT_NE(other.copy_key(original), registrar_.copy_key(original));
  EXPECT_EQ(other.copy_key(copy), other.copy_key(original));
  // Without Call-ID, CSeq or To there is nothing to key: answered in a transaction.
  Message bare = original;
  bare.remove(sip::HeaderId::kCallId);
  EXPECT_FALSE(registrar_.copy_key(bare).has_value());
}

TEST_F(RegistrarTest, StatelessCopiesOfRemovalsAndQueriesGetTheSameAnswer) {
  send(reg("Contact: <sip:a@h1>\r\nContact: <sip:a@h2>\r\n", "", "c1", 1));
  const Message star = reg("Contact: *\r\n", "Expires: 0\r\n", "c1", 2);
  EXPECT_EQ(stateless(registrar_, star, source_).status_code(), 200);
  Message again = stateless(registrar_, star, source_);
  EXPECT_EQ(again.status_code(), 200);
  EXPECT_TRUE(contacts_of(again).empty());
  const Message query = reg("", "", "c2", 1);
  EXPECT_EQ(stateless(registrar_, query, source_).status_code(), 200);
  EXPECT_EQ(stateless(registrar_, query, source_).status_code(), 200);
  EXPECT_EQ(location_.binding_count(), 0u);
  // Refusals are not remembered: judged again, they are refused again.
  const Message brief = reg("Contact: <sip:a@h>;expires=10\r\n", "", "c3", 1);
  EXPECT_EQ(stateless(registrar_, brief, source_).status_code(), 423);
  EXPECT_EQ(stateless(registrar_, brief, source_).status_code(), 423);
  EXPECT_EQ(registrar_.remembered(), 2u);
}

TEST_F(RegistrarTest, StatefulDeliveryRemembersNothingAndStatelessMemoryIsBounded) {
  const Message first = reg("Contact: <sip:a@h>\r\n", "", "c1", 1);
  EXPECT_EQ(send(first).status_code(), 200);
  EXPECT_EQ(registrar_.remembered(), 0u);  // its transaction absorbs the copies

  RegistrarConfig c = config();
  c.max_remembered = 2;
  Registrar bounded(c, location_, [](std::string_view) { return true; });
  std::vector<Message> requests;
  for (int i = 0; i < 3; ++i) requests.push_back(reg("Contact: <sip:b@h>\r\n", "", "bounded", 10 + i));
  for (const Message& r : requests) EXPECT_EQ(stateless(bounded, r, source_).status_code(), 200);
  EXPECT_EQ(bounded.remembered(), 2u);
  EXPECT_EQ(stateless(bounded, requests[0], source_).status_code(), 500);  // the oldest made room
  EXPECT_EQ(stateless(bounded, requests[2], source_).status_code(), 200);
}

TEST_F(RegistrarTest, EqualUrisAreOneBinding) {
  send(reg("Contact: <sip:a@H;transport=UDP>\r\n", "", "c1", 1));
  send(reg("Contact: <sip:a@h;transport=udp>\r\n", "", "c1", 2));
  EXPECT_EQ(location_.binding_count(), 1u);
}

TEST_F(RegistrarTest, EqualUrisWithEscapedUserAreOneBindingAndKeepTheStoredSpelling) {
  send(reg("Contact: <sip:%61lice@h:5070>;expires=600\r\n", "", "c1", 1));
  // Equal to the stored contact (§19.1.4): a refresh of it, even as a stale CSeq is refused.
  EXPECT_EQ(send(reg("Contact: <sip:alice@H:5070>;expires=600\r\n", "", "c1", 1)).status_code(), 500);
  Message r = send(reg("Contact: <sip:alice@H:5070>;expires=300\r\n", "", "c1", 2));
  EXPECT_EQ(contacts_of(r), (std::map<std::string, std::uint32_t>{{"sip:%61lice@h:5070", 300}}));
  EXPECT_EQ(location_.count("sip:alice@example.com"), 1u);
  EXPECT_NE(location_.find_by_contact(sip::parse_uri("sip:alice@h:5070").value()), nullptr);
}

TEST_F(RegistrarTest, SameUserHostAndPortWithOtherParametersAreTwoBindings) {
  send(reg("Contact: <sip:a@h:5070;transport=tcp>\r\n", "", "c1", 1));
  send(reg("Contact: <sip:a@h:5070;transport=udp>\r\n", "", "c1", 2));
  send(reg("Contact: <sip:a@h:5071;transport=tcp>\r\n", "", "c1", 3));
  send(reg("Contact: <sip:a@h:5070;transport=TCP>\r\n", "", "c1", 4));  // equal to the first
  EXPECT_EQ(location_.count("sip:alice@example.com"), 3u);
  EXPECT_EQ(location_.count("sip:bob@example.com"), 0u);
  std::size_t visited = 0;
  location_.for_each("sip:alice@example.com", [&](const store::Binding& b) {
    ++visited;
    EXPECT_EQ(b.aor, "sip:alice@example.com");
  });
  EXPECT_EQ(visited, 3u);
}

TEST_F(RegistrarTest, QValuesOrderTheBindings) {
  send(reg("Contact: <sip:a@low>;q=0.1\r\nContact: <sip:a@high>;q=0.9\r\nContact: <sip:a@mid>;q=0.5\r\n"));
  auto bindings = location_.lookup("sip:alice@example.com");
  ASSERT_EQ(bindings.size(), 3u);
  EXPECT_EQ(bindings[0].contact, "sip:a@high");
  EXPECT_EQ(bindings[0].q, 900);
  EXPECT_EQ(bindings[2].contact, "sip:a@low");
}

// §10.3 step 8: each binding in the 200 as "<uri>;expires=N", with q in three decimals
// and the instance quoted as registered; all of them in one Contact header, comma-separated.
TEST_F(RegistrarTest, The200WritesExpiresQAndInstanceOfEachBinding) {
  Message r = send(reg("Contact: <sip:a@one>;q=1\r\nContact: <sip:a@two>;q=0.05;expires=600\r\n"
                       "Contact: <sip:a@three>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>\"\r\n",
                       "Expires: 1800\r\n"));
  ASSERT_EQ(r.status_code(), 200);
  EXPECT_EQ(r.count(HeaderId::kContact), 1u);
  std::set<std::string> lines;
  sip::grammar::for_each_list_element(r.find(HeaderId::kContact)->value,
                                      [&](std::string_view element) {
                                        lines.emplace(element);
                                        return true;
                                      });
  EXPECT_EQ(lines, (std::set<std::string>{
                       "<sip:a@one>;expires=1800;q=1.000",
                       "<sip:a@two>;expires=600;q=0.050",
                       "<sip:a@three>;expires=1800;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>\""}));
}

// The Contact list is written in place in the 200 (room reserved per binding): 150 bindings,
// each with the longest q and an instance, are all listed, each with its own values.
TEST_F(RegistrarTest, The200ListsEveryBindingOfALargeAor) {
  for (int i = 0; i < 150; ++i) {
    send(reg("Contact: <sip:alice-" + std::to_string(i) + "@192.0.2.7:5062;transport=udp>;q=0.125;expires=" +
                 std::to_string(600 + i) + ";+sip.instance=\"<urn:uuid:" + std::to_string(i) + ">\"\r\n",
             "", "c1", i + 1));
  }
  Message r = send(reg(""));
  ASSERT_EQ(r.status_code(), 200);
  std::map<std::string, std::uint32_t> expected;
  for (int i = 0; i < 150; ++i) {
    expected["sip:alice-" + std::to_string(i) + "@192.0.2.7:5062;transport=udp"] = static_cast<std::uint32_t>(600 + i);
  }
  EXPECT_EQ(contacts_of(r), expected);
  auto reparsed = sip::parse_message(sip::serialize(r));
  ASSERT_TRUE(reparsed.ok());
  std::size_t with_q_and_instance = 0;
  reparsed->for_each<sip::hdr::Contact>([&](const sip::ContactValue& c) {
    with_q_and_instance += c.q() == 125 && c.address.params.find("+sip.instance").has_value() ? 1 : 0;
    return true;
  });
  EXPECT_EQ(with_q_and_instance, 150u);
}

TEST_F(RegistrarTest, PathIsStoredAndReturnedWhenSupported) {
  Message r = send(reg("Contact: <sip:a@h>\r\n", "Path: <sip:edge.example.net;lr>\r\nSupported: path\r\n"));
  EXPECT_EQ(r.find(HeaderId::kPath)->value, "<sip:edge.example.net;lr>");
  EXPECT_EQ(location_.lookup("sip:alice@example.com")[0].path, std::vector<std::string>{"sip:edge.example.net;lr"});
  Message no = send(reg("Contact: <sip:a@h2>\r\n", "Path: <sip:edge.example.net;lr>\r\n", "c9"));
  EXPECT_FALSE(no.has(HeaderId::kPath));
}

TEST_F(RegistrarTest, UnknownUserIs404WithoutAuthentication) {
  Message r = send(reg("Contact: <sip:x@h>\r\n", "", "c1", 1, "sip:nobody@example.com"));
  EXPECT_EQ(r.status_code(), 404);
}

TEST_F(RegistrarTest, IdentityMustMatchTheAor) {
  EXPECT_EQ(send(reg("Contact: <sip:a@h>\r\n"), std::string("sip:bob@example.com")).status_code(), 403);
  EXPECT_EQ(send(reg("Contact: <sip:a@h>\r\n"), std::string("sip:alice@example.com")).status_code(), 200);
}

TEST_F(RegistrarTest, ForeignDomainAndSchemes) {
  EXPECT_EQ(send(reg("Contact: <sip:a@h>\r\n", "", "c1", 1, "sip:alice@example.org")).status_code(), 403);
  EXPECT_EQ(send(reg("Contact: <sip:a@h>\r\n", "", "c1", 1, "tel:+123")).status_code(), 400);
}

TEST_F(RegistrarTest, BindingsSurviveAReloadWithTheirRemainingLifetime) {
  send(reg("Contact: <sip:a@h>;expires=300\r\n"));
  advance(std::chrono::seconds(100));
  LocationService reloaded(timers_, &store_, [this] { return unix_now(); });
  EXPECT_EQ(reloaded.load(), 1u);
  EXPECT_EQ(reloaded.lookup("sip:alice@example.com")[0].expires_at - unix_now(), 200);
  // load() arms the AOR's timer: the binding expires from the reloaded service on time.
  advance(std::chrono::seconds(199));
  EXPECT_EQ(reloaded.count("sip:alice@example.com"), 1u);
  advance(std::chrono::seconds(1));
  EXPECT_EQ(reloaded.count("sip:alice@example.com"), 0u);
}

// The store keys bindings by id (store::BindingStore): each new binding gets the next one,
// a refresh keeps its binding's, and a removal names it.
std::map<std::string, std::int64_t> stored_ids(const store::MemoryStore& store) {
  std::map<std::string, std::int64_t> ids;
  const auto loaded = store.load_bindings();
  for (const store::Binding& b : loaded.value()) ids[b.contact] = b.id;
  return ids;
}

TEST_F(RegistrarTest, NewBindingsGetIncreasingIdsAndARefreshKeepsItsOwn) {
  send(reg("Contact: <sip:a@h1>\r\nContact: <sip:a@h2>\r\n"));
  send(reg("Contact: <sip:b@h3>\r\n", "", "c2", 1, "sip:bob@example.com"));
  EXPECT_EQ(stored_ids(store_), (std::map<std::string, std::int64_t>{{"sip:a@h1", 1}, {"sip:a@h2", 2}, {"sip:b@h3", 3}}));
  send(reg("Contact: <sip:a@h1>;expires=900\r\n", "", "c1", 2));
  EXPECT_EQ(stored_ids(store_), (std::map<std::string, std::int64_t>{{"sip:a@h1", 1}, {"sip:a@h2", 2}, {"sip:b@h3", 3}}));
  EXPECT_EQ(location_.find("sip:alice@example.com", "sip:a@h1")->id, 1);
}

TEST_F(RegistrarTest, RemovalsReachTheStoreByIdAndStarLeavesOtherAorsAlone) {
  send(reg("Contact: <sip:a@h1>\r\nContact: <sip:a@h2>\r\nContact: <sip:a@h3>\r\n"));
  send(reg("Contact: <sip:b@h4>\r\n", "", "c2", 1, "sip:bob@example.com"));
  send(reg("Contact: <sip:a@h2>;expires=0\r\n", "", "c1", 2));
  EXPECT_EQ(stored_ids(store_), (std::map<std::string, std::int64_t>{{"sip:a@h1", 1}, {"sip:a@h3", 3}, {"sip:b@h4", 4}}));
  send(reg("Contact: *\r\n", "Expires: 0\r\n", "c1", 3));
  EXPECT_EQ(stored_ids(store_), (std::map<std::string, std::int64_t>{{"sip:b@h4", 4}}));
  // Removing a contact the AOR does not have is not found and changes nothing stored.
  EXPECT_TRUE(location_.remove("sip:alice@example.com", "sip:a@h1").is_not_found());
  EXPECT_TRUE(location_.remove("sip:bob@example.com", "sip:a@h1").is_not_found());
  EXPECT_EQ(stored_ids(store_).size(), 1u);
}

TEST_F(RegistrarTest, AfterAReloadNewIdsAreAboveEveryStoredOneExpiredOnesIncluded) {
  send(reg("Contact: <sip:a@h1>;expires=300\r\n"));
  store::Binding expired = store_.load_bindings().value()[0];
  expired.contact = "sip:a@gone";
  expired.expires_at = unix_now() - 1;
  expired.id = 40;
  ASSERT_TRUE(store_.put_binding(expired).ok());
  LocationService reloaded(timers_, &store_, [this] { return unix_now(); });
  EXPECT_EQ(reloaded.load(), 1u);
  store::Binding fresh = reloaded.lookup("sip:alice@example.com")[0];
  fresh.contact = "sip:a@h2";
  ASSERT_TRUE(reloaded.put(fresh).ok());
  EXPECT_EQ(stored_ids(store_), (std::map<std::string, std::int64_t>{{"sip:a@h1", 1}, {"sip:a@h2", 41}}));
}

TEST(Rfc1123Date, FormatsGmt) { EXPECT_EQ(rfc1123_date(1289690940), "Sat, 13 Nov 2010 23:29:00 GMT"); }

TEST(Rfc1123Date, EachSecondGetsItsOwnText) {
  // Formatted once per second: a cached text must not outlive its second.
  EXPECT_EQ(rfc1123_date(1289690940), "Sat, 13 Nov 2010 23:29:00 GMT");
  EXPECT_EQ(rfc1123_date(1289690941), "Sat, 13 Nov 2010 23:29:01 GMT");
  EXPECT_EQ(rfc1123_date(1289690941), "Sat, 13 Nov 2010 23:29:01 GMT");
  EXPECT_EQ(rfc1123_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(rfc1123_date(1289690940), "Sat, 13 Nov 2010 23:29:00 GMT");
}

}  // namespace
}  // namespace herald::services::registrar
