// Behaviour every Store backend shares, run against each one.
#include "store/store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

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
