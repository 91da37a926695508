// What the write-behind store adds to the Store contract (store_test.cpp runs the rest against
// it as "sqlite_thread"): writes queued and committed on its own thread, sends released by
// batch number, reads that see the queued writes, nothing lost at shutdown.
#include "store/write_behind_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "store/ha1.h"
#include "store/sqlite_store.h"
#include "temp_dir.h"

namespace herald::store {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// The id follows from the contact, so that two calls with one contact give equal bindings.
Binding binding(std::string contact) {
  Binding b;
  b.id = 1 + static_cast<std::int64_t>(std::hash<std::string>{}(contact) % 1'000'000'007);
  b.aor = "sip:alice@example.com";
  b.contact = std::move(contact);
  b.call_id = "call-1";
  b.cseq = 1;
  b.expires_at = 4000;
  b.updated_at = 3000;
  return b;
}

// A second connection to the same file: what another process (or a restart) would read.
std::vector<Binding> on_disk(const std::filesystem::path& dir) {
  auto other = SqliteStore::open(dir);
  EXPECT_TRUE(other.ok()) << other.status().message();
  if (!other.ok()) return {};
  auto all = other.value()->load_bindings();
  EXPECT_TRUE(all.ok()) << all.status().message();
  return all.ok() ? *all : std::vector<Binding>{};
}

class WriteBehindStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto writer = SqliteStore::open(dir_.path());
    ASSERT_TRUE(writer.ok()) << writer.status().message();
    auto reader = SqliteStore::open(dir_.path());
    ASSERT_TRUE(reader.ok()) << reader.status().message();
    store_ =
        std::make_unique<WriteBehindStore>(std::move(writer).value(), std::move(reader).value());
    store_->batch_writes([this] { ++opened_; });
    store_->on_durable([this] {
      std::lock_guard lock(mutex_);
      ++notified_;
      notified_on_.push_back(std::this_thread::get_id());
    });
  }

  // Waits (bounded) until the writer thread says batch `n` is durable.
  bool durable_within(std::uint64_t n, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (store_->batches_durable() < n) {
      if (std::chrono::steady_clock::now() > until) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
  }

  testing::TempDir dir_;
  std::unique_ptr<WriteBehindStore> store_;
  int opened_ = 0;
  std::mutex mutex_;
  int notified_ = 0;                          // guarded by mutex_
  std::vector<std::thread::id> notified_on_;  // guarded by mutex_
};

TEST_F(WriteBehindStoreTest, AWriteOpensOneBatchThatStaysOpenUntilTheWriterHasCommittedIt) {
  EXPECT_FALSE(store_->batch_open());
  ASSERT_TRUE(store_->put_binding(binding("sip:a@192.0.2.1")).ok());
  ASSERT_TRUE(store_->put_binding(binding("sip:b@192.0.2.1")).ok());
  EXPECT_EQ(opened_, 1);  // one batch for both
  EXPECT_EQ(store_->batches_begun(), 1u);
  EXPECT_TRUE(store_->batch_open());
  EXPECT_THAT(on_disk(dir_.path()), IsEmpty());  // queued, not yet handed over

  ASSERT_TRUE(store_->commit_batch().ok());
  ASSERT_TRUE(durable_within(1));
  EXPECT_FALSE(store_->batch_open());
  EXPECT_EQ(on_disk(dir_.path()).size(), 2u);
  std::lock_guard lock(mutex_);
  EXPECT_GE(notified_, 1);
  for (std::thread::id id : notified_on_)
    EXPECT_NE(id, std::this_thread::get_id());  // the writer's thread
}

TEST_F(WriteBehindStoreTest, EachCommittedBatchGetsTheNextNumber) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(store_->put_binding(binding("sip:" + std::to_string(i) + "@192.0.2.1")).ok());
    EXPECT_EQ(store_->batches_begun(), static_cast<std::uint64_t>(i + 1));
    ASSERT_TRUE(store_->commit_batch().ok());
  }
  EXPECT_EQ(opened_, 5);
  ASSERT_TRUE(durable_within(5));
  EXPECT_EQ(on_disk(dir_.path()).size(), 5u);
}

TEST_F(WriteBehindStoreTest, AnInvalidWriteIsRefusedAtOnceAndOpensNoBatch) {
  Binding bad = binding("");
  Status status = store_->put_binding(bad);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(opened_, 0);
  EXPECT_FALSE(store_->batch_open());
}

TEST(WriteBehindStoreUnbatched,
     BeforeBatchWritesAWriteIsDurableOnReturnAndAnswersWhatTheDatabaseSaid) {
  testing::TempDir dir;
  auto writer = SqliteStore::open(dir.path());
  auto reader = SqliteStore::open(dir.path());
  ASSERT_TRUE(writer.ok() && reader.ok());
  WriteBehindStore store(std::move(writer).value(), std::move(reader).value());
  ASSERT_TRUE(store.put_binding(binding("sip:a@192.0.2.1")).ok());
  EXPECT_FALSE(store.batch_open());
  EXPECT_THAT(on_disk(dir.path()), ElementsAre(binding("sip:a@192.0.2.1")));
  EXPECT_TRUE(store.remove_binding(binding("sip:nobody@192.0.2.1").id).is_not_found());
}

TEST_F(WriteBehindStoreTest, AReadSeesTheWritesQueuedBeforeIt) {
  ASSERT_TRUE(store_->put_binding(binding("sip:a@192.0.2.1")).ok());
  ASSERT_TRUE(store_->remove_binding(binding("sip:a@192.0.2.1").id).ok());
  ASSERT_TRUE(store_->put_binding(binding("sip:b@192.0.2.1")).ok());
  auto loaded = store_->load_bindings();  // no commit_batch() in between
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_THAT(*loaded, ElementsAre(binding("sip:b@192.0.2.1")));
}

TEST_F(WriteBehindStoreTest, WritesNeverCommittedByTheCallerAreDurableAfterDestruction) {
  ASSERT_TRUE(store_->put_binding(binding("sip:a@192.0.2.1")).ok());
  store_.reset();  // a shard going down: no commit_batch() came
  EXPECT_THAT(on_disk(dir_.path()), ElementsAre(binding("sip:a@192.0.2.1")));
}

TEST_F(WriteBehindStoreTest, WaitDurableReturnsWithEverythingOnDisk) {
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(store_->put_binding(binding("sip:" + std::to_string(i) + "@192.0.2.1")).ok());
    if (i % 10 == 9) {
      ASSERT_TRUE(store_->commit_batch().ok());
    }
  }
  ASSERT_TRUE(store_->wait_durable().ok());
  EXPECT_EQ(store_->batches_durable(), store_->batches_begun());
  EXPECT_EQ(on_disk(dir_.path()).size(), 100u);
}

TEST_F(WriteBehindStoreTest, UserLookupsShareASnapshotThatEndsWithTheBatch) {
  auto other = SqliteStore::open(dir_.path());  // `herald user add` in another process
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(store_->find_user("sip:bob@example.com").status().is_not_found());
  EXPECT_EQ(opened_, 1);               // the snapshot asks for the end of the turn, as a batch does
  EXPECT_FALSE(store_->batch_open());  // but holds no send
  ASSERT_TRUE(other.value()->add_user(*make_user("sip:bob@example.com", "example.com", "pw")).ok());
  EXPECT_TRUE(store_->find_user("sip:bob@example.com").status().is_not_found());  // same snapshot
  EXPECT_EQ(opened_, 1);
  ASSERT_TRUE(store_->commit_batch().ok());  // the turn ends
  EXPECT_TRUE(store_->find_user("sip:bob@example.com").ok());
}

TEST_F(WriteBehindStoreTest, UsersWrittenThroughItAreFoundAtOnce) {
  ASSERT_TRUE(store_->add_user(*make_user("sip:carol@example.com", "example.com", "pw")).ok());
  EXPECT_TRUE(store_->find_user("sip:carol@example.com").ok());
  EXPECT_TRUE(store_->add_user(*make_user("sip:carol@example.com", "example.com", "pw")).code() ==
              StatusCode::kAlreadyExists);
}

TEST_F(WriteBehindStoreTest, ManyBatchesFromALoopAreAllDurableInOrder) {
  // A loop's pace: a write and a commit per turn, far faster than one transaction each.
  constexpr int kTurns = 2000;
  for (int i = 0; i < kTurns; ++i) {
    Binding b = binding("sip:same@192.0.2.1");
    b.cseq = static_cast<std::uint32_t>(i);
    ASSERT_TRUE(store_->put_binding(b).ok());
    ASSERT_TRUE(store_->commit_batch().ok());
  }
  ASSERT_TRUE(durable_within(kTurns));
  std::vector<Binding> all = on_disk(dir_.path());
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].cseq, static_cast<std::uint32_t>(kTurns - 1));  // the last write won
}

}  // namespace
}  // namespace herald::store
