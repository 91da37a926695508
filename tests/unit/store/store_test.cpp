// Behaviour every Store backend shares, run against each one.
#include "store/store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "store/ha1.h"
#include "temp_dir.h"

namespace herald::store {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

User alice() { return *make_user("sip:alice@example.com", "example.com", "secret"); }
User bob() { return *make_user("sip:bob@example.com", "example.com", "hunter2"); }

// Each binding gets the next id, as the location service gives them.
Binding binding(std::string aor, std::string contact, std::int64_t expires_at = 2000) {
  static std::int64_t last_id = 0;
  Binding b;
  b.id = ++last_id;
  b.aor = std::move(aor);
  b.contact = std::move(contact);
  b.call_id = "a84b4c76e66710@pc33.example.com";
  b.cseq = 314159;
  b.expires_at = expires_at;
  b.q = 700;
  b.instance = "<urn:uuid:00000000-0000-1000-8000-000A95A0E128>";
  b.received = "udp:192.0.2.1:5060";
  b.updated_at = 1000;
  return b;
}

StoredMessage message(std::string recipient, std::string body, std::int64_t expires_at = 2000) {
  StoredMessage m;
  m.recipient = std::move(recipient);
  m.from = "\"Alice\" <sip:alice@example.com>;tag=49583";
  m.to = "<" + m.recipient + ">";
  m.content_type = "text/plain;charset=UTF-8";
  m.body = std::move(body);
  m.date = "Sat, 13 Nov 2010 23:29:00 GMT";
  m.received_at = 1000;
  m.expires_at = expires_at;
  return m;
}

Publication publication(std::string etag, std::string presentity, std::int64_t sequence,
                        std::int64_t expires_at = 2000) {
  Publication p;
  p.etag = std::move(etag);
  p.presentity = std::move(presentity);
  p.event = "presence";
  p.content_type = "application/pidf+xml";
  p.body = "<presence entity=\"" + p.presentity +
           "\"><tuple id=\"t1\"><status><basic>open</basic></status></tuple></presence>";
  p.sequence = sequence;
  p.expires_at = expires_at;
  p.updated_at = 1000;
  return p;
}

SubscriptionRecord subscription(std::string key, std::string resource = "sip:bob@example.com") {
  SubscriptionRecord r;
  r.key = std::move(key);
  r.package = "presence";
  r.resource = std::move(resource);
  r.watcher = "sip:alice@example.com";
  r.watcher_display = "Alice";
  r.call_id = "3848276298220188511@atlanta.example.com";
  r.local_tag = "ffd2";
  r.remote_tag = "1928301774";
  r.local_uri = r.resource;
  r.remote_uri = r.watcher;
  r.remote_target = "sip:alice@192.0.2.4:5060;transport=tcp";
  r.flow = "tcp:192.0.2.4:40312";
  r.content_type = "application/pidf+xml";
  r.remote_cseq = 17;
  r.local_cseq = 3;
  r.expires_at = 4600;
  r.state = "active";
  return r;
}

class StoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    StoreConfig config;
    config.backend = queued() ? "sqlite" : GetParam();
    config.writer_thread = queued();
    config.data_dir = dir_.path();
    Result<std::unique_ptr<Store>> opened = open_store(config);
    ASSERT_TRUE(opened.ok()) << opened.status().message();
    store_ = std::move(opened).value();
    // As a shard uses it: writes queue for the writer thread (reads wait for them).
    if (queued()) store_->batch_writes([] {});
  }

  // The write-behind store (SQLite on a writer thread) answers a queued write before the
  // database has seen it: removing what is not there is ok, not kNotFound, there.
  bool queued() const { return GetParam() == "sqlite-thread"; }
  void expect_absent(const Status& status) const {
    if (queued()) {
      EXPECT_TRUE(status.ok()) << status.message();
    } else {
      EXPECT_TRUE(status.is_not_found()) << status.message();
    }
  }

  std::vector<Binding> bindings() {
    Result<std::vector<Binding>> loaded = store_->load_bindings();
    EXPECT_TRUE(loaded.ok()) << loaded.status().message();
    return loaded.ok() ? *loaded : std::vector<Binding>{};
  }

  // Stores m and returns it as the store should give it back: with its new id.
  StoredMessage store_message(StoredMessage m) {
    Result<std::int64_t> id = store_->store_message(m);
    EXPECT_TRUE(id.ok()) << id.status().message();
    m.id = id.ok() ? *id : -1;
    return m;
  }

  std::vector<StoredMessage> pending(std::string_view recipient) {
    Result<std::vector<StoredMessage>> messages = store_->pending_messages(recipient);
    EXPECT_TRUE(messages.ok()) << messages.status().message();
    return messages.ok() ? *messages : std::vector<StoredMessage>{};
  }

  std::vector<std::string> recipients() {
    Result<std::vector<std::string>> all = store_->message_recipients();
    EXPECT_TRUE(all.ok()) << all.status().message();
    return all.ok() ? *all : std::vector<std::string>{};
  }

  std::vector<Publication> publications() {
    Result<std::vector<Publication>> loaded = store_->load_publications();
    EXPECT_TRUE(loaded.ok()) << loaded.status().message();
    return loaded.ok() ? *loaded : std::vector<Publication>{};
  }

  std::vector<SubscriptionRecord> subscriptions() {
    Result<std::vector<SubscriptionRecord>> loaded = store_->load_subscriptions();
    EXPECT_TRUE(loaded.ok()) << loaded.status().message();
    return loaded.ok() ? *loaded : std::vector<SubscriptionRecord>{};
  }

  std::vector<PresenceRule> rules() {
    Result<std::vector<PresenceRule>> loaded = store_->load_presence_rules();
    EXPECT_TRUE(loaded.ok()) << loaded.status().message();
    return loaded.ok() ? *loaded : std::vector<PresenceRule>{};
  }

  std::int64_t generation() {
    Result<std::int64_t> value = store_->presence_rules_generation();
    EXPECT_TRUE(value.ok()) << value.status().message();
    return value.ok() ? *value : -1;
  }

  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_P(StoreTest, AddedUserIsFoundAndListed) {
  ASSERT_TRUE(store_->add_user(bob()).ok());
  ASSERT_TRUE(store_->add_user(alice()).ok());
  Result<User> found = store_->find_user("sip:alice@example.com");
  ASSERT_TRUE(found.ok()) << found.status().message();
  EXPECT_EQ(*found, alice());
  Result<std::vector<User>> all = store_->list_users();
  ASSERT_TRUE(all.ok());
  EXPECT_THAT(*all, ElementsAre(alice(), bob()));  // ordered by aor
}

TEST_P(StoreTest, UsersGenerationChangesWithEveryUserChangeOnly) {
  auto users_generation = [&] {
    Result<std::int64_t> value = store_->users_generation();
    EXPECT_TRUE(value.ok()) << value.status().message();
    return value.ok() ? *value : -1;
  };
  std::int64_t seen = users_generation();
  EXPECT_EQ(users_generation(), seen);  // reading does not change it
  ASSERT_TRUE(store_->add_user(alice()).ok());
  EXPECT_NE(users_generation(), seen);
  seen = users_generation();
  ASSERT_TRUE(store_->set_password("sip:alice@example.com", "changed").ok());
  EXPECT_NE(users_generation(), seen);
  seen = users_generation();
  ASSERT_TRUE(store_->remove_user("sip:alice@example.com").ok());
  EXPECT_NE(users_generation(), seen);
  seen = users_generation();
  // Refused calls, reads and other tables leave it alone.
  EXPECT_TRUE(store_->remove_user("sip:alice@example.com").is_not_found());
  EXPECT_TRUE(store_->update_user(alice()).is_not_found());
  ASSERT_TRUE(store_->add_user(bob()).ok());
  seen = users_generation();
  EXPECT_EQ(store_->add_user(bob()).code(), StatusCode::kAlreadyExists);
  EXPECT_TRUE(store_->find_user("sip:bob@example.com").ok());
  ASSERT_TRUE(store_->set_presence_rule({"sip:bob@example.com", "example.com", "allow"}).ok());
  ASSERT_TRUE(store_->put_subscription(subscription("k1")).ok());
  EXPECT_EQ(users_generation(), seen);
}

TEST_P(StoreTest, UnknownUserIsNotFound) {
  Result<User> found = store_->find_user("sip:nobody@example.com");
  ASSERT_FALSE(found.ok());
  EXPECT_TRUE(found.status().is_not_found());
  EXPECT_THAT(*store_->list_users(), IsEmpty());
}

TEST_P(StoreTest, AddingAnExistingUserIsAnErrorAndKeepsTheFirst) {
  ASSERT_TRUE(store_->add_user(alice()).ok());
  User other = alice();
  other.realm = "other.example.com";
  Status status = store_->add_user(other);
  EXPECT_EQ(status.code(), StatusCode::kAlreadyExists);
  EXPECT_NE(status.message().find("sip:alice@example.com"), std::string::npos);
  EXPECT_EQ(*store_->find_user(alice().aor), alice());
}

TEST_P(StoreTest, UserWithEmptyAorIsRefused) {
  EXPECT_EQ(store_->add_user(User{}).code(), StatusCode::kInvalidArgument);
}

TEST_P(StoreTest, RemovedUserIsGoneAndRemovingAgainIsAnError) {
  ASSERT_TRUE(store_->add_user(alice()).ok());
  ASSERT_TRUE(store_->add_user(bob()).ok());
  EXPECT_TRUE(store_->remove_user(alice().aor).ok());
  EXPECT_TRUE(store_->find_user(alice().aor).status().is_not_found());
  EXPECT_TRUE(store_->remove_user(alice().aor).is_not_found());
  EXPECT_THAT(*store_->list_users(), ElementsAre(bob()));
}

TEST_P(StoreTest, SetPasswordChangesBothHa1sAndKeepsTheRealm) {
  ASSERT_TRUE(store_->add_user(alice()).ok());
  ASSERT_TRUE(store_->set_password(alice().aor, "new secret").ok());
  Result<User> found = store_->find_user(alice().aor);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->realm, "example.com");
  EXPECT_EQ(found->ha1_md5, *compute_ha1(DigestAlgorithm::kMd5, "alice", "example.com",
                                         "new secret"));
  EXPECT_EQ(found->ha1_sha256, *compute_ha1(DigestAlgorithm::kSha256, "alice", "example.com",
                                            "new secret"));
  EXPECT_NE(found->ha1_md5, alice().ha1_md5);
  EXPECT_NE(found->ha1_sha256, alice().ha1_sha256);
}

TEST_P(StoreTest, SetPasswordOfUnknownUserIsNotFound) {
  EXPECT_TRUE(store_->set_password("sip:nobody@example.com", "x").is_not_found());
}

TEST_P(StoreTest, UpdateUserReplacesRealmAndHa1s) {
  ASSERT_TRUE(store_->add_user(alice()).ok());
  User moved = *make_user(alice().aor, "new.example.com", "secret");
  ASSERT_TRUE(store_->update_user(moved).ok());
  EXPECT_EQ(*store_->find_user(alice().aor), moved);
  EXPECT_TRUE(store_->update_user(bob()).is_not_found());
}

TEST_P(StoreTest, PutBindingIsLoadedBackFieldForField) {
  Binding b = binding("sip:alice@example.com", "sip:alice@192.0.2.4:5060;transport=tcp");
  b.cseq = 4294967295u;  // the largest CSeq survives the INTEGER column
  b.expires_at = 4102444800;
  b.updated_at = -1;
  ASSERT_TRUE(store_->put_binding(b).ok());
  EXPECT_THAT(bindings(), ElementsAre(b));
}

TEST_P(StoreTest, PathRoundTripsInOrder) {
  Binding none = binding("sip:alice@example.com", "sip:a@192.0.2.4");
  Binding one = binding("sip:alice@example.com", "sip:b@192.0.2.4");
  one.path = {"<sip:edge.example.com;lr>"};
  Binding three = binding("sip:alice@example.com", "sip:c@192.0.2.4");
  three.path = {"<sip:p1.example.com;lr>", "<sip:p2.example.com;lr;ob>",
                "<sip:p3.example.com:5061;transport=tls;lr>"};
  three.q = -1;
  three.instance.clear();
  for (const Binding& b : {none, one, three}) ASSERT_TRUE(store_->put_binding(b).ok());
  EXPECT_THAT(bindings(), ElementsAre(none, one, three));
}

TEST_P(StoreTest, PutBindingReplacesTheBindingWithTheSameId) {
  Binding first = binding("sip:alice@example.com", "sip:alice@192.0.2.4");
  ASSERT_TRUE(store_->put_binding(first).ok());
  Binding refreshed = first;
  refreshed.contact = "sip:alice@192.0.2.4;transport=tcp";  // the id is the key, not the text
  refreshed.cseq = first.cseq + 1;
  refreshed.expires_at = 5000;
  refreshed.path = {"<sip:edge.example.com;lr>"};
  refreshed.received = "tcp:198.51.100.7:40312";
  ASSERT_TRUE(store_->put_binding(refreshed).ok());
  EXPECT_THAT(bindings(), ElementsAre(refreshed));
}

TEST_P(StoreTest, BindingsAreLoadedInTheOrderOfTheirIds) {
  Binding b2 = binding("sip:bob@example.com", "sip:bob@192.0.2.9");
  Binding a2 = binding("sip:alice@example.com", "sip:alice@192.0.2.5");
  Binding a1 = binding("sip:alice@example.com", "sip:alice@192.0.2.4");
  for (const Binding& b : {a1, b2, a2}) ASSERT_TRUE(store_->put_binding(b).ok());
  EXPECT_THAT(bindings(), ElementsAre(b2, a2, a1));
}

TEST_P(StoreTest, RemoveBindingRemovesOnlyTheBindingWithThatId) {
  Binding a1 = binding("sip:alice@example.com", "sip:alice@192.0.2.4");
  Binding a2 = binding("sip:alice@example.com", "sip:alice@192.0.2.5");
  ASSERT_TRUE(store_->put_binding(a1).ok());
  ASSERT_TRUE(store_->put_binding(a2).ok());
  EXPECT_TRUE(store_->remove_binding(a1.id).ok());
  EXPECT_THAT(bindings(), ElementsAre(a2));
  expect_absent(store_->remove_binding(a1.id));
  expect_absent(store_->remove_binding(a2.id + 1000));
}

TEST_P(StoreTest, RemoveBindingsRemovesEveryContactOfTheAorOnly) {
  Binding a1 = binding("sip:alice@example.com", "sip:alice@192.0.2.4");
  Binding a2 = binding("sip:alice@example.com", "sip:alice@192.0.2.5");
  Binding b1 = binding("sip:bob@example.com", "sip:bob@192.0.2.9");
  Binding prefix = binding("sip:alice@example.com.evil", "sip:x@192.0.2.1");
  for (const Binding& b : {a1, a2, b1, prefix}) ASSERT_TRUE(store_->put_binding(b).ok());
  Result<std::size_t> removed = store_->remove_bindings("sip:alice@example.com");
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 2u);
  EXPECT_THAT(bindings(), ElementsAre(b1, prefix));
  removed = store_->remove_bindings("sip:alice@example.com");
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 0u);
}

TEST_P(StoreTest, RemoveExpiredRemovesThoseExpiringAtOrBeforeNow) {
  Binding gone = binding("sip:alice@example.com", "sip:a@192.0.2.4", 999);
  Binding edge = binding("sip:alice@example.com", "sip:b@192.0.2.4", 1000);
  Binding kept = binding("sip:bob@example.com", "sip:c@192.0.2.4", 1001);
  for (const Binding& b : {gone, edge, kept}) ASSERT_TRUE(store_->put_binding(b).ok());
  Result<std::size_t> removed = store_->remove_expired(1000);
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 2u);
  EXPECT_THAT(bindings(), ElementsAre(kept));
  EXPECT_EQ(*store_->remove_expired(1000), 0u);
}

TEST_P(StoreTest, InvalidBindingsAreRefused) {
  Binding no_aor = binding("", "sip:a@192.0.2.4");
  Binding no_contact = binding("sip:alice@example.com", "");
  Binding empty_path = binding("sip:alice@example.com", "sip:a@192.0.2.4");
  empty_path.path = {"<sip:p1.example.com;lr>", ""};
  Binding lf_path = binding("sip:alice@example.com", "sip:a@192.0.2.4");
  lf_path.path = {"<sip:p1\n.example.com;lr>"};
  Binding no_id = binding("sip:alice@example.com", "sip:a@192.0.2.4");
  no_id.id = 0;
  Binding negative_id = binding("sip:alice@example.com", "sip:a@192.0.2.4");
  negative_id.id = -5;
  for (const Binding& b : {no_aor, no_contact, empty_path, lf_path, no_id, negative_id}) {
    EXPECT_EQ(store_->put_binding(b).code(), StatusCode::kInvalidArgument);
  }
  EXPECT_THAT(bindings(), IsEmpty());
}

TEST_P(StoreTest, ManyBindingsAreAllReadBack) {
  constexpr int kCount = 2000;
  for (int i = 0; i < kCount; ++i) {
    Binding b = binding("sip:user" + std::to_string(i % 100) + "@example.com",
                        "sip:c" + std::to_string(i) + "@192.0.2.4", 1000 + i);
    ASSERT_TRUE(store_->put_binding(b).ok());
  }
  EXPECT_EQ(bindings().size(), static_cast<std::size_t>(kCount));
  EXPECT_EQ(*store_->remove_expired(1000 + kCount / 2 - 1), static_cast<std::size_t>(kCount / 2));
  EXPECT_EQ(bindings().size(), static_cast<std::size_t>(kCount / 2));
}

TEST_P(StoreTest, StoredMessagesGetIncreasingIdsAndArePendingInThatOrder) {
  StoredMessage first = store_message(message("sip:bob@example.com", "one"));
  StoredMessage other = store_message(message("sip:carol@example.com", "for carol"));
  StoredMessage second = store_message(message("sip:bob@example.com", "two"));
  StoredMessage third = store_message(message("sip:bob@example.com", "three"));
  EXPECT_LT(first.id, other.id);
  EXPECT_LT(other.id, second.id);
  EXPECT_LT(second.id, third.id);
  EXPECT_THAT(pending("sip:bob@example.com"), ElementsAre(first, second, third));
}

TEST_P(StoreTest, StoredMessageIsReadBackFieldForFieldWithItsNewId) {
  StoredMessage m = message("sip:bob@example.com", "Watson, come here.");
  m.id = 12345;  // ignored
  m.received_at = -1;
  m.expires_at = 4102444800;
  m.attempts = 4294967295u;  // the largest count survives the INTEGER column
  Result<std::int64_t> id = store_->store_message(m);
  ASSERT_TRUE(id.ok()) << id.status().message();
  EXPECT_NE(*id, 12345);
  m.id = *id;
  EXPECT_THAT(pending(m.recipient), ElementsAre(m));
}

TEST_P(StoreTest, MessageWithoutBodyRoundTrips) {
  StoredMessage m = message("sip:bob@example.com", "");
  m.content_type.clear();
  m.date.clear();
  m = store_message(m);
  EXPECT_THAT(pending(m.recipient), ElementsAre(m));
}

TEST_P(StoreTest, BinaryBodyRoundTripsByteForByte) {
  std::string every_byte;
  for (int b = 0; b < 256; ++b) every_byte.push_back(static_cast<char>(b));
  const std::string nuls("\0\0a\0", 4);
  const std::string invalid_utf8("\xff\xfe\xc3\x28\xff", 5);
  StoredMessage a = message("sip:bob@example.com", every_byte + every_byte);
  a.content_type = "application/octet-stream";
  StoredMessage b = message("sip:bob@example.com", nuls);
  StoredMessage c = message("sip:bob@example.com", invalid_utf8);
  a = store_message(a);
  b = store_message(b);
  c = store_message(c);
  std::vector<StoredMessage> read = pending("sip:bob@example.com");
  ASSERT_THAT(read, ElementsAre(a, b, c));
  EXPECT_EQ(read[0].body.size(), 512u);
  EXPECT_EQ(read[1].body.size(), 4u);
  EXPECT_EQ(read[2].body, invalid_utf8);
}

TEST_P(StoreTest, PendingMessagesAreThoseOfTheRecipientOnly) {
  StoredMessage bob = store_message(message("sip:bob@example.com", "to bob"));
  StoredMessage prefix = store_message(message("sip:bob@example.com.evil", "to evil"));
  StoredMessage shorter = store_message(message("sip:bob@example.co", "to .co"));
  EXPECT_THAT(pending("sip:bob@example.com"), ElementsAre(bob));
  EXPECT_THAT(pending("sip:bob@example.com.evil"), ElementsAre(prefix));
  EXPECT_THAT(pending("sip:bob@example.co"), ElementsAre(shorter));
  EXPECT_THAT(pending("sip:nobody@example.com"), IsEmpty());
  EXPECT_THAT(pending(""), IsEmpty());
}

TEST_P(StoreTest, CountMessagesCountsThoseOfTheRecipient) {
  for (int i = 0; i < 3; ++i) store_message(message("sip:bob@example.com", std::to_string(i)));
  store_message(message("sip:bob@example.com.evil", "x"));
  EXPECT_EQ(*store_->count_messages("sip:bob@example.com"), 3u);
  EXPECT_EQ(*store_->count_messages("sip:bob@example.com.evil"), 1u);
  EXPECT_EQ(*store_->count_messages("sip:nobody@example.com"), 0u);
}

TEST_P(StoreTest, MessageRecipientsAreDistinctAndOrdered) {
  EXPECT_THAT(recipients(), IsEmpty());
  store_message(message("sip:carol@example.com", "1"));
  store_message(message("sip:bob@example.com", "2"));
  store_message(message("sip:carol@example.com", "3"));
  store_message(message("sip:bob@example.com.evil", "4"));
  store_message(message("sip:bob@example.com", "5"));
  EXPECT_THAT(recipients(), ElementsAre("sip:bob@example.com", "sip:bob@example.com.evil",
                                        "sip:carol@example.com"));
}

TEST_P(StoreTest, RemoveMessageRemovesOnlyThatOneAndRemovingAgainIsNotFound) {
  StoredMessage first = store_message(message("sip:bob@example.com", "one"));
  StoredMessage second = store_message(message("sip:bob@example.com", "two"));
  StoredMessage carol = store_message(message("sip:carol@example.com", "three"));
  EXPECT_TRUE(store_->remove_message(first.id).ok());
  EXPECT_THAT(pending("sip:bob@example.com"), ElementsAre(second));
  expect_absent(store_->remove_message(first.id));
  expect_absent(store_->remove_message(carol.id + 1000));
  EXPECT_TRUE(store_->remove_message(carol.id).ok());
  EXPECT_THAT(recipients(), ElementsAre("sip:bob@example.com"));  // carol has none left
  EXPECT_EQ(*store_->count_messages("sip:carol@example.com"), 0u);
}

TEST_P(StoreTest, SetMessageAttemptsChangesOnlyThatMessage) {
  StoredMessage first = store_message(message("sip:bob@example.com", "one"));
  StoredMessage second = store_message(message("sip:bob@example.com", "two"));
  ASSERT_TRUE(store_->set_message_attempts(second.id, 3).ok());
  second.attempts = 3;
  EXPECT_THAT(pending("sip:bob@example.com"), ElementsAre(first, second));
  ASSERT_TRUE(store_->set_message_attempts(second.id, 3).ok());  // unchanged is still found
  EXPECT_THAT(pending("sip:bob@example.com"), ElementsAre(first, second));
  expect_absent(store_->set_message_attempts(second.id + 1000, 1));
  ASSERT_TRUE(store_->remove_message(first.id).ok());
  expect_absent(store_->set_message_attempts(first.id, 1));
}

TEST_P(StoreTest, RemoveExpiredMessagesRemovesThoseExpiringAtOrBeforeNow) {
  store_message(message("sip:bob@example.com", "gone", 999));
  store_message(message("sip:carol@example.com", "edge", 1000));
  StoredMessage kept = store_message(message("sip:bob@example.com", "kept", 1001));
  // Expired but not yet removed: still pending.
  EXPECT_EQ(pending("sip:bob@example.com").size(), 2u);
  Result<std::size_t> removed = store_->remove_expired_messages(1000);
  ASSERT_TRUE(removed.ok()) << removed.status().message();
  EXPECT_EQ(*removed, 2u);
  EXPECT_THAT(pending("sip:bob@example.com"), ElementsAre(kept));
  EXPECT_THAT(recipients(), ElementsAre("sip:bob@example.com"));
  EXPECT_EQ(*store_->remove_expired_messages(1000), 0u);
  EXPECT_TRUE(store_->set_message_attempts(kept.id, 1).ok());  // the survivor is still found
  EXPECT_EQ(*store_->remove_expired_messages(1001), 1u);
  EXPECT_THAT(recipients(), IsEmpty());
}

TEST_P(StoreTest, IdsAreNotReusedAfterTheNewestMessageIsRemoved) {
  StoredMessage first = store_message(message("sip:bob@example.com", "one"));
  StoredMessage newest = store_message(message("sip:bob@example.com", "two"));
  ASSERT_TRUE(store_->remove_message(newest.id).ok());
  ASSERT_TRUE(store_->remove_message(first.id).ok());
  StoredMessage next = store_message(message("sip:bob@example.com", "three"));
  EXPECT_GT(next.id, newest.id);
}

TEST_P(StoreTest, MessageWithEmptyRecipientIsRefused) {
  Result<std::int64_t> id = store_->store_message(message("", "lost"));
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(recipients(), IsEmpty());
}

TEST_P(StoreTest, MessagesAndBindingsOfTheSameAorAreIndependent) {
  Binding b = binding("sip:bob@example.com", "sip:bob@192.0.2.9", 500);
  ASSERT_TRUE(store_->put_binding(b).ok());
  StoredMessage m = store_message(message("sip:bob@example.com", "hi", 500));
  EXPECT_EQ(*store_->remove_expired(1000), 1u);
  EXPECT_THAT(pending("sip:bob@example.com"), ElementsAre(m));
  ASSERT_TRUE(store_->put_binding(b).ok());
  EXPECT_EQ(*store_->remove_expired_messages(1000), 1u);
  EXPECT_THAT(bindings(), ElementsAre(b));
}

TEST_P(StoreTest, PutPublicationIsLoadedBackFieldForField) {
  Publication p = publication("a1b2c3", "sip:bob@example.com", 1);
  p.sequence = 9007199254740993;  // beyond a double's exact integers
  p.expires_at = 4102444800;
  p.updated_at = -1;
  ASSERT_TRUE(store_->put_publication(p).ok());
  EXPECT_THAT(publications(), ElementsAre(p));
}

TEST_P(StoreTest, PublicationBodyRoundTripsByteForByte) {
  std::string every_byte;
  for (int b = 0; b < 256; ++b) every_byte.push_back(static_cast<char>(b));
  Publication binary = publication("e1", "sip:bob@example.com", 1);
  binary.body = every_byte + std::string("\0\0", 2);
  Publication empty = publication("e2", "sip:bob@example.com", 2);
  empty.body.clear();
  empty.content_type.clear();
  ASSERT_TRUE(store_->put_publication(binary).ok());
  ASSERT_TRUE(store_->put_publication(empty).ok());
  std::vector<Publication> read = publications();
  ASSERT_THAT(read, ElementsAre(binary, empty));
  EXPECT_EQ(read[0].body.size(), 258u);
}

TEST_P(StoreTest, PutPublicationReplacesTheOneWithTheSameEtag) {
  Publication first = publication("e1", "sip:bob@example.com", 1);
  ASSERT_TRUE(store_->put_publication(first).ok());
  Publication modified = first;
  modified.body = "<presence/>";
  modified.expires_at = 5000;
  modified.updated_at = 1500;
  ASSERT_TRUE(store_->put_publication(modified).ok());
  EXPECT_THAT(publications(), ElementsAre(modified));
}

TEST_P(StoreTest, PutPublicationRemovesTheOneItReplacesOnly) {
  Publication old_tag = publication("e1", "sip:bob@example.com", 1);
  Publication other = publication("e2", "sip:bob@example.com", 2);
  for (const Publication& p : {old_tag, other}) ASSERT_TRUE(store_->put_publication(p).ok());
  Publication refreshed = old_tag;  // a refresh issues a new entity-tag (RFC 3903 §6)
  refreshed.etag = "e3";
  refreshed.expires_at = 5000;
  ASSERT_TRUE(store_->put_publication(refreshed, "e1").ok());
  EXPECT_THAT(publications(), ElementsAre(refreshed, other));  // sequence 1 stays first
  expect_absent(store_->remove_publication("e1"));
}

TEST_P(StoreTest, ReplacesThatIsTheSameEtagOrAbsentOnlyPuts) {
  Publication p = publication("e1", "sip:bob@example.com", 1);
  ASSERT_TRUE(store_->put_publication(p, "e1").ok());
  EXPECT_THAT(publications(), ElementsAre(p));
  Publication q = publication("e2", "sip:bob@example.com", 2);
  ASSERT_TRUE(store_->put_publication(q, "expired-long-ago").ok());
  EXPECT_THAT(publications(), ElementsAre(p, q));
}

TEST_P(StoreTest, PublicationsAreLoadedOrderedByPresentityThenSequence) {
  Publication bob2 = publication("a", "sip:bob@example.com", 2);
  Publication carol1 = publication("b", "sip:carol@example.com", 1);
  Publication bob10 = publication("c", "sip:bob@example.com", 10);
  Publication alice7 = publication("d", "sip:alice@example.com", 7);
  Publication bob1 = publication("z", "sip:bob@example.com", 1);
  for (const Publication& p : {bob2, carol1, bob10, alice7, bob1}) {
    ASSERT_TRUE(store_->put_publication(p).ok());
  }
  EXPECT_THAT(publications(), ElementsAre(alice7, bob1, bob2, bob10, carol1));
}

TEST_P(StoreTest, RemovePublicationRemovesOnlyThatEtag) {
  Publication a = publication("e1", "sip:bob@example.com", 1);
  Publication b = publication("e2", "sip:bob@example.com", 2);
  for (const Publication& p : {a, b}) ASSERT_TRUE(store_->put_publication(p).ok());
  EXPECT_TRUE(store_->remove_publication("e1").ok());
  EXPECT_THAT(publications(), ElementsAre(b));
  Status again = store_->remove_publication("e1");
  expect_absent(again);
  if (!queued()) {
    EXPECT_THAT(again.message(), ::testing::HasSubstr("e1"));
  }
  expect_absent(store_->remove_publication(""));
}

TEST_P(StoreTest, RemoveExpiredPublicationsRemovesThoseExpiringAtOrBeforeNow) {
  Publication gone = publication("e1", "sip:bob@example.com", 1, 999);
  Publication edge = publication("e2", "sip:carol@example.com", 2, 1000);
  Publication kept = publication("e3", "sip:bob@example.com", 3, 1001);
  for (const Publication& p : {gone, edge, kept}) ASSERT_TRUE(store_->put_publication(p).ok());
  Result<std::size_t> removed = store_->remove_expired_publications(1000);
  ASSERT_TRUE(removed.ok()) << removed.status().message();
  EXPECT_EQ(*removed, 2u);
  EXPECT_THAT(publications(), ElementsAre(kept));
  EXPECT_EQ(*store_->remove_expired_publications(1000), 0u);
}

TEST_P(StoreTest, InvalidPublicationsAreRefusedAndRemoveNothing) {
  Publication kept = publication("e1", "sip:bob@example.com", 1);
  ASSERT_TRUE(store_->put_publication(kept).ok());
  Publication no_etag = publication("", "sip:bob@example.com", 2);
  Publication no_presentity = publication("e2", "", 2);
  for (const Publication& p : {no_etag, no_presentity}) {
    EXPECT_EQ(store_->put_publication(p, "e1").code(), StatusCode::kInvalidArgument);
  }
  EXPECT_THAT(publications(), ElementsAre(kept));
}

TEST_P(StoreTest, PutSubscriptionIsLoadedBackFieldForField) {
  SubscriptionRecord r = subscription("k1");
  r.event_id = "17";
  r.remote_cseq = 4294967295u;  // the largest CSeq numbers survive the INTEGER columns
  r.local_cseq = 4294967295u;
  r.expires_at = 4102444800;
  r.state = "pending";
  ASSERT_TRUE(store_->put_subscription(r).ok());
  EXPECT_THAT(subscriptions(), ElementsAre(r));
}

TEST_P(StoreTest, RouteSetRoundTripsInOrder) {
  SubscriptionRecord none = subscription("a");
  SubscriptionRecord one = subscription("b");
  one.route_set = {"<sip:edge.example.com;lr>"};
  SubscriptionRecord three = subscription("c");
  three.route_set = {"<sip:p1.example.com;lr>", "<sip:p2.example.com;lr;ob>",
                     "<sip:p3.example.com:5061;transport=tls;lr>"};
  three.flow.clear();
  three.watcher_display.clear();
  for (const SubscriptionRecord& r : {none, one, three}) {
    ASSERT_TRUE(store_->put_subscription(r).ok());
  }
  EXPECT_THAT(subscriptions(), ElementsAre(none, one, three));
}

TEST_P(StoreTest, PutSubscriptionReplacesTheSameKey) {
  SubscriptionRecord first = subscription("k1");
  ASSERT_TRUE(store_->put_subscription(first).ok());
  SubscriptionRecord refreshed = first;
  refreshed.remote_cseq = first.remote_cseq + 1;
  refreshed.local_cseq = first.local_cseq + 2;
  refreshed.expires_at = 8200;
  refreshed.route_set = {"<sip:edge.example.com;lr>"};
  refreshed.state = "pending";
  ASSERT_TRUE(store_->put_subscription(refreshed).ok());
  EXPECT_THAT(subscriptions(), ElementsAre(refreshed));
}

TEST_P(StoreTest, SubscriptionsAreLoadedOrderedByKey) {
  SubscriptionRecord c = subscription("c", "sip:alice@example.com");
  SubscriptionRecord a = subscription("a", "sip:zed@example.com");
  SubscriptionRecord b = subscription("b");
  for (const SubscriptionRecord& r : {c, a, b}) ASSERT_TRUE(store_->put_subscription(r).ok());
  EXPECT_THAT(subscriptions(), ElementsAre(a, b, c));
}

TEST_P(StoreTest, RemoveSubscriptionRemovesOnlyThatKey) {
  SubscriptionRecord a = subscription("a");
  SubscriptionRecord b = subscription("b");
  for (const SubscriptionRecord& r : {a, b}) ASSERT_TRUE(store_->put_subscription(r).ok());
  EXPECT_TRUE(store_->remove_subscription("a").ok());
  EXPECT_THAT(subscriptions(), ElementsAre(b));
  expect_absent(store_->remove_subscription("a"));
  expect_absent(store_->remove_subscription("nonexistent"));
}

TEST_P(StoreTest, InvalidSubscriptionsAreRefused) {
  SubscriptionRecord no_key = subscription("");
  SubscriptionRecord empty_route = subscription("k1");
  empty_route.route_set = {"<sip:p1.example.com;lr>", ""};
  SubscriptionRecord lf_route = subscription("k2");
  lf_route.route_set = {"<sip:p1\n.example.com;lr>"};
  for (const SubscriptionRecord& r : {no_key, empty_route, lf_route}) {
    EXPECT_EQ(store_->put_subscription(r).code(), StatusCode::kInvalidArgument);
  }
  EXPECT_THAT(subscriptions(), IsEmpty());
}

TEST_P(StoreTest, PresenceRulesAreSetAndLoadedOrderedByPresentityThenWatcher) {
  PresenceRule bob_domain{"sip:bob@example.com", "example.com", "confirm"};
  PresenceRule alice_carol{"sip:alice@example.com", "sip:carol@example.com", "polite-block"};
  PresenceRule bob_alice{"sip:bob@example.com", "sip:alice@example.com", "allow"};
  PresenceRule bob_mallory{"sip:bob@example.com", "sip:mallory@evil.example", "block"};
  for (const PresenceRule& r : {bob_domain, alice_carol, bob_alice, bob_mallory}) {
    ASSERT_TRUE(store_->set_presence_rule(r).ok());
  }
  EXPECT_THAT(rules(), ElementsAre(alice_carol, bob_domain, bob_alice, bob_mallory));
}

TEST_P(StoreTest, SetPresenceRuleReplacesTheRuleOfTheSamePair) {
  PresenceRule rule{"sip:bob@example.com", "sip:alice@example.com", "confirm"};
  PresenceRule other{"sip:bob@example.com", "example.com", "block"};
  ASSERT_TRUE(store_->set_presence_rule(rule).ok());
  ASSERT_TRUE(store_->set_presence_rule(other).ok());
  rule.action = "allow";
  ASSERT_TRUE(store_->set_presence_rule(rule).ok());
  EXPECT_THAT(rules(), ElementsAre(other, rule));
}

TEST_P(StoreTest, RemovePresenceRuleRemovesOnlyThatPair) {
  PresenceRule a{"sip:bob@example.com", "sip:alice@example.com", "allow"};
  PresenceRule b{"sip:bob@example.com", "example.com", "block"};
  PresenceRule c{"sip:alice@example.com", "sip:bob@example.com", "allow"};
  for (const PresenceRule& r : {a, b, c}) ASSERT_TRUE(store_->set_presence_rule(r).ok());
  EXPECT_TRUE(store_->remove_presence_rule(a.presentity, a.watcher).ok());
  EXPECT_THAT(rules(), ElementsAre(c, b));
  Status again = store_->remove_presence_rule(a.presentity, a.watcher);
  EXPECT_TRUE(again.is_not_found());
  EXPECT_THAT(again.message(), ::testing::HasSubstr(a.watcher));
  // Same watcher, other presentity: not the rule that exists.
  EXPECT_TRUE(store_->remove_presence_rule("sip:carol@example.com", b.watcher).is_not_found());
  EXPECT_THAT(rules(), ElementsAre(c, b));
}

TEST_P(StoreTest, InvalidPresenceRulesAreRefused) {
  const PresenceRule invalid[] = {
      {"", "sip:alice@example.com", "allow"},
      {"sip:bob@example.com", "", "allow"},
      {"sip:bob@example.com", "sip:alice@example.com", ""},
      {"sip:bob@example.com", "sip:alice@example.com", "deny"},
      {"sip:bob@example.com", "sip:alice@example.com", "Allow"},
      {"sip:bob@example.com", "sip:alice@example.com", "polite block"},
      {"sip:bob@example.com", "sip:alice@example.com", std::string("allow\0", 6)},
  };
  for (const PresenceRule& r : invalid) {
    EXPECT_EQ(store_->set_presence_rule(r).code(), StatusCode::kInvalidArgument) << r.action;
  }
  EXPECT_THAT(rules(), IsEmpty());
}

TEST_P(StoreTest, EachActionIsAccepted) {
  for (const char* action : {"allow", "block", "polite-block", "confirm"}) {
    EXPECT_TRUE(store_->set_presence_rule({"sip:bob@example.com", "example.com", action}).ok());
    EXPECT_THAT(rules(), ElementsAre(PresenceRule{"sip:bob@example.com", "example.com", action}));
  }
}

TEST_P(StoreTest, GenerationChangesWithEverySetAndRemovalOnly) {
  PresenceRule rule{"sip:bob@example.com", "sip:alice@example.com", "allow"};
  std::int64_t start = generation();
  EXPECT_EQ(generation(), start);  // reading does not change it
  ASSERT_TRUE(store_->set_presence_rule(rule).ok());
  std::int64_t after_set = generation();
  EXPECT_NE(after_set, start);
  ASSERT_TRUE(store_->set_presence_rule(rule).ok());  // the same action again
  std::int64_t after_same = generation();
  EXPECT_NE(after_same, after_set);
  rule.action = "block";
  ASSERT_TRUE(store_->set_presence_rule(rule).ok());
  std::int64_t after_change = generation();
  EXPECT_NE(after_change, after_same);
  ASSERT_TRUE(store_->remove_presence_rule(rule.presentity, rule.watcher).ok());
  std::int64_t after_remove = generation();
  EXPECT_NE(after_remove, after_change);
  // Refused calls and other tables leave it alone.
  EXPECT_TRUE(store_->remove_presence_rule(rule.presentity, rule.watcher).is_not_found());
  EXPECT_EQ(store_->set_presence_rule({"", "x", "allow"}).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(store_->put_publication(publication("e1", rule.presentity, 1)).ok());
  ASSERT_TRUE(store_->put_subscription(subscription("k1")).ok());
  EXPECT_EQ(generation(), after_remove);
}

TEST_P(StoreTest, PresenceDataOfTheSameAorIsIndependent) {
  Publication p = publication("e1", "sip:bob@example.com", 1, 500);
  SubscriptionRecord s = subscription("k1", "sip:bob@example.com");
  PresenceRule r{"sip:bob@example.com", "sip:alice@example.com", "allow"};
  ASSERT_TRUE(store_->put_publication(p).ok());
  ASSERT_TRUE(store_->put_subscription(s).ok());
  ASSERT_TRUE(store_->set_presence_rule(r).ok());
  ASSERT_TRUE(store_->put_binding(binding("sip:bob@example.com", "sip:bob@192.0.2.9", 500)).ok());
  EXPECT_EQ(*store_->remove_expired(1000), 1u);
  EXPECT_THAT(publications(), ElementsAre(p));
  EXPECT_EQ(*store_->remove_expired_publications(1000), 1u);
  EXPECT_THAT(subscriptions(), ElementsAre(s));
  EXPECT_THAT(rules(), ElementsAre(r));
}

TEST(OpenStoreTest, UnknownBackendIsRefusedByName) {
  StoreConfig config;
  config.backend = "cassandra";
  config.data_dir = "/nonexistent";
  Result<std::unique_ptr<Store>> opened = open_store(config);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(opened.status().message().find("cassandra"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest, ::testing::Values("sqlite", "memory", "sqlite-thread"),
                         [](const auto& param_info) {
                           std::string name = param_info.param;
                           std::replace(name.begin(), name.end(), '-', '_');  // gtest names: [A-Za-z0-9_]
                           return name;
                         });

}  // namespace
}  // namespace herald::store
