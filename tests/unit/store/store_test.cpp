// Behaviour every Store backend shares, run against each one.
#include "store/store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

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

Binding binding(std::string aor, std::string contact, std::int64_t expires_at = 2000) {
  Binding b;
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

class StoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    StoreConfig config;
    config.backend = GetParam();
    config.data_dir = dir_.path();
    Result<std::unique_ptr<Store>> opened = open_store(config);
    ASSERT_TRUE(opened.ok()) << opened.status().message();
    store_ = std::move(opened).value();
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

TEST_P(StoreTest, PutBindingReplacesTheSameAorAndContact) {
  Binding first = binding("sip:alice@example.com", "sip:alice@192.0.2.4");
  ASSERT_TRUE(store_->put_binding(first).ok());
  Binding refreshed = first;
  refreshed.cseq = first.cseq + 1;
  refreshed.expires_at = 5000;
  refreshed.path = {"<sip:edge.example.com;lr>"};
  refreshed.received = "tcp:198.51.100.7:40312";
  ASSERT_TRUE(store_->put_binding(refreshed).ok());
  EXPECT_THAT(bindings(), ElementsAre(refreshed));
}

TEST_P(StoreTest, BindingsAreLoadedOrderedByAorThenContact) {
  Binding b2 = binding("sip:bob@example.com", "sip:bob@192.0.2.9");
  Binding a2 = binding("sip:alice@example.com", "sip:alice@192.0.2.5");
  Binding a1 = binding("sip:alice@example.com", "sip:alice@192.0.2.4");
  for (const Binding& b : {b2, a2, a1}) ASSERT_TRUE(store_->put_binding(b).ok());
  EXPECT_THAT(bindings(), ElementsAre(a1, a2, b2));
}

TEST_P(StoreTest, RemoveBindingRemovesOnlyThatContact) {
  Binding a1 = binding("sip:alice@example.com", "sip:alice@192.0.2.4");
  Binding a2 = binding("sip:alice@example.com", "sip:alice@192.0.2.5");
  ASSERT_TRUE(store_->put_binding(a1).ok());
  ASSERT_TRUE(store_->put_binding(a2).ok());
  EXPECT_TRUE(store_->remove_binding(a1.aor, a1.contact).ok());
  EXPECT_THAT(bindings(), ElementsAre(a2));
  EXPECT_TRUE(store_->remove_binding(a1.aor, a1.contact).is_not_found());
  EXPECT_TRUE(store_->remove_binding("sip:bob@example.com", a2.contact).is_not_found());
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
  EXPECT_THAT(bindings(), ElementsAre(prefix, b1));
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
  for (const Binding& b : {no_aor, no_contact, empty_path, lf_path}) {
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
  EXPECT_TRUE(store_->remove_message(first.id).is_not_found());
  EXPECT_TRUE(store_->remove_message(carol.id + 1000).is_not_found());
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
  EXPECT_TRUE(store_->set_message_attempts(second.id + 1000, 1).is_not_found());
  ASSERT_TRUE(store_->remove_message(first.id).ok());
  EXPECT_TRUE(store_->set_message_attempts(first.id, 1).is_not_found());
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

TEST(OpenStoreTest, UnknownBackendIsRefusedByName) {
  StoreConfig config;
  config.backend = "cassandra";
  config.data_dir = "/nonexistent";
  Result<std::unique_ptr<Store>> opened = open_store(config);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(opened.status().message().find("cassandra"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest, ::testing::Values("sqlite", "memory"),
                         [](const auto& param_info) { return param_info.param; });

}  // namespace
}  // namespace herald::store
