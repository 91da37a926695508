// The users cache in front of the store: what it keeps, and when it forgets.
#include "store/user_cache.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "store/ha1.h"
#include "store/memory_store.h"
#include "store/sqlite_store.h"
#include "temp_dir.h"

namespace herald::store {
namespace {

User alice(const std::string& password = "secret") {
  return *make_user("sip:alice@example.com", "example.com", password);
}

// A real MemoryStore whose find_user() or users_generation() can be made to fail, as a
// database does when its disk goes away.
class FailingUsers final : public UserStore {
 public:
  Status add_user(const User& user) override { return users_.add_user(user); }
  Status update_user(const User& user) override { return users_.update_user(user); }
  Status remove_user(std::string_view aor) override { return users_.remove_user(aor); }
  Result<User> find_user(std::string_view aor) const override {
    ++finds;
    if (fail_find) return Status::error(StatusCode::kIoError, "disk I/O error");
    return users_.find_user(aor);
  }
  Result<std::vector<User>> list_users() const override { return users_.list_users(); }
  Result<std::int64_t> users_generation() const override {
    if (fail_generation) return Status::error(StatusCode::kIoError, "disk I/O error");
    return users_.users_generation();
  }

  bool fail_find = false;
  bool fail_generation = false;
  mutable int finds = 0;

 private:
  MemoryStore users_;
};

class UserCacheTest : public ::testing::Test {
 protected:
  std::unique_ptr<SqliteStore> open_ok() {
    Result<std::unique_ptr<SqliteStore>> opened = SqliteStore::open(dir_.path());
    EXPECT_TRUE(opened.ok()) << opened.status().message();
    return opened.ok() ? std::move(opened).value() : nullptr;
  }

  testing::TempDir dir_;
};

TEST_F(UserCacheTest, WhatHeraldUserChangesIsSeenAfterThePollNotBefore) {
  auto server = open_ok();
  auto command = open_ok();  // `herald user`, another connection to the same file
  ASSERT_NE(server, nullptr);
  ASSERT_NE(command, nullptr);
  UserCache users(*server);
  EXPECT_EQ(users.find("sip:alice@example.com"), nullptr);

  ASSERT_TRUE(command->add_user(alice()).ok());
  EXPECT_EQ(users.find("sip:alice@example.com"), nullptr);  // the answer kept
  users.poll();
  const User* found = users.find("sip:alice@example.com");
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(*found, alice());

  ASSERT_TRUE(command->set_password("sip:alice@example.com", "changed").ok());
  EXPECT_EQ(*users.find("sip:alice@example.com"), alice());
  users.poll();
  EXPECT_EQ(*users.find("sip:alice@example.com"), alice("changed"));

  ASSERT_TRUE(command->remove_user("sip:alice@example.com").ok());
  EXPECT_NE(users.find("sip:alice@example.com"), nullptr);
  users.poll();
  EXPECT_EQ(users.find("sip:alice@example.com"), nullptr);
}

TEST_F(UserCacheTest, APollWithoutChangesKeepsEverything) {
  FailingUsers store;
  ASSERT_TRUE(store.add_user(alice()).ok());
  UserCache users(store);
  ASSERT_NE(users.find("sip:alice@example.com"), nullptr);
  EXPECT_EQ(users.find("sip:nobody@example.com"), nullptr);
  EXPECT_EQ(store.finds, 2);
  users.poll();
  EXPECT_NE(users.find("sip:alice@example.com"), nullptr);
  EXPECT_EQ(users.find("sip:nobody@example.com"), nullptr);
  EXPECT_EQ(store.finds, 2);  // both answers came from memory
  EXPECT_EQ(users.size(), 2u);
}

TEST_F(UserCacheTest, AFailedLookupIsNotKept) {
  FailingUsers store;
  ASSERT_TRUE(store.add_user(alice()).ok());
  UserCache users(store);
  store.fail_find = true;
  EXPECT_EQ(users.find("sip:alice@example.com"), nullptr);
  EXPECT_EQ(users.size(), 0u);
  store.fail_find = false;
  EXPECT_NE(users.find("sip:alice@example.com"), nullptr);  // asked again, without a poll
}

TEST_F(UserCacheTest, AnUnreadableGenerationForgetsEverything) {
  FailingUsers store;
  ASSERT_TRUE(store.add_user(alice()).ok());
  UserCache users(store);
  ASSERT_NE(users.find("sip:alice@example.com"), nullptr);
  store.fail_generation = true;
  users.poll();
  EXPECT_EQ(users.size(), 0u);
  ASSERT_TRUE(store.remove_user("sip:alice@example.com").ok());
  EXPECT_EQ(users.find("sip:alice@example.com"), nullptr);
  store.fail_generation = false;
  ASSERT_TRUE(store.add_user(alice()).ok());
  users.poll();  // readable again: a change from the last value read is a change
  EXPECT_NE(users.find("sip:alice@example.com"), nullptr);
}

TEST_F(UserCacheTest, AFloodOfUnknownAorsIsBounded) {
  FailingUsers store;
  ASSERT_TRUE(store.add_user(alice()).ok());
  UserCache users(store, 3);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(users.find("sip:u" + std::to_string(i) + "@example.com"), nullptr);
    EXPECT_LE(users.size(), 3u);
  }
  const User* found = users.find("sip:alice@example.com");
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(*found, alice());
}

}  // namespace
}  // namespace herald::store
