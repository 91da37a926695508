#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "store/sqlite_handle.h"
#include "store/store.h"
#include "store/wal_checkpointer.h"

namespace herald::store {

// The Store in one SQLite database, <data_dir>/herald.db.
//
// Durability: the connection runs journal_mode=WAL with synchronous=NORMAL. A committed
// write is in the WAL file (the OS page cache) before the call returns, so it survives the
// process being killed (kill -9, a crash); only a power loss or kernel crash can lose the
// last transactions before the next checkpoint. Each write is one implicit transaction and
// costs tens of microseconds, with no fsync on the write path. With batch_writes(), the
// first write takes the write lock (BEGIN IMMEDIATE) and the batch is one transaction,
// committed by commit_batch() (or when the object is destroyed). A batching store is a
// server's: its WAL checkpoints (and their fsyncs) then run on a thread of their own every
// 500 ms, 50 ms while writes go on (sqlite::WalCheckpointer), instead of inside a commit on
// the caller's thread; only when the WAL reaches wal_limit_pages (under writes that never
// pause) does a commit checkpoint the rest itself, so that the WAL starts again.
//
// Sharing: several SqliteStore objects, in this process or others (the server and the
// `herald user` command), may open the same directory; each sees the others' committed
// writes. A writer waits up to busy_timeout_ms for another writer's lock, then the call
// fails with kIoError ("database is locked").
//
// Threading: one connection per object, prepared statements cached on it; an object is
// used from one thread at a time (the connection is opened without SQLite's mutexes).
class SqliteStore final : public Store {
 public:
  static constexpr const char* kFileName = "herald.db";

  // Creates data_dir and the database if missing, sets the PRAGMAs, migrates the schema and
  // prepares the statements. Errors: see open_store().
  static Result<std::unique_ptr<SqliteStore>> open(const std::filesystem::path& data_dir,
                                                   int busy_timeout_ms = 5000);
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  Status add_user(const User& user) override;
  Status update_user(const User& user) override;
  Status remove_user(std::string_view aor) override;
  Result<User> find_user(std::string_view aor) const override;
  Result<std::vector<User>> list_users() const override;
  Result<std::int64_t> users_generation() const override;

  Status put_binding(const Binding& binding) override;
  Status remove_binding(std::int64_t id) override;
  Result<std::size_t> remove_bindings(std::string_view aor) override;
  Result<std::vector<Binding>> load_bindings() const override;
  Result<std::size_t> remove_expired(std::int64_t now) override;

  Result<std::int64_t> store_message(const StoredMessage& message) override;
  Result<std::vector<StoredMessage>> pending_messages(std::string_view recipient) const override;
  Result<std::size_t> count_messages(std::string_view recipient) const override;
  Result<std::vector<std::string>> message_recipients() const override;
  Status remove_message(std::int64_t id) override;
  Status set_message_attempts(std::int64_t id, std::uint32_t attempts) override;
  Result<std::size_t> remove_expired_messages(std::int64_t now) override;

  // With a `replaces` to remove, one IMMEDIATE transaction; otherwise one statement.
  Status put_publication(const Publication& publication, std::string_view replaces = {}) override;
  Status remove_publication(std::string_view etag) override;
  Result<std::vector<Publication>> load_publications() const override;
  Result<std::size_t> remove_expired_publications(std::int64_t now) override;

  Status put_subscription(const SubscriptionRecord& subscription) override;
  Status remove_subscription(std::string_view key) override;
  Result<std::vector<SubscriptionRecord>> load_subscriptions() const override;

  Status set_presence_rule(const PresenceRule& rule) override;
  Status remove_presence_rule(std::string_view presentity, std::string_view watcher) override;
  Result<std::vector<PresenceRule>> load_presence_rules() const override;
  // The 'presence_rules' row of the counters table, which triggers on presence_rules
  // increment in the writer's transaction (so also for writes by another connection or an
  // operator's sqlite3 shell): one primary-key read.
  Result<std::int64_t> presence_rules_generation() const override;

  // The WAL size, in pages, at which a batching store's own commit checkpoints (see
  // above): 32,768 pages of 4 KiB, 128 MiB. Takes effect at batch_writes(). 0 or less
  // means never, and the WAL may then grow without end under unpaused writes.
  static constexpr int kWalLimitPages = 32768;
  void set_wal_limit_pages(int pages) { wal_limit_pages_ = pages; }

  // A read transaction (BEGIN, then COMMIT) spans the snapshot: its file locks and its look
  // at the WAL once for every find_user() in it, not once each. Not with batch_writes() on
  // the same object: a batch's transaction already serves its reads.
  bool snapshot_reads(const std::function<void()>& opened) override;
  void end_snapshot() override;

  bool batch_writes(const std::function<void()>& opened) override;
  Status commit_batch() override;
  bool batch_open() const override { return batch_open_; }
  std::uint64_t batches_begun() const override { return batches_; }
  std::uint64_t batches_durable() const override { return batch_open_ ? batches_ - 1 : batches_; }

  // The database file, for messages.
  const std::string& file() const { return file_; }

 private:
  struct Statements;  // the cached prepared statements, one per operation

  SqliteStore(sqlite::DbHandle db, std::string file);
  // Called first by every write: opens a batch when batching and none is open.
  Status before_write();
  // The value of one row of the counters table (a missing row is kCorruption).
  Result<std::int64_t> read_counter(sqlite3_stmt* statement, std::string_view name) const;

  std::string file_;
  sqlite::DbHandle db_;                     // destroyed after statements_
  std::unique_ptr<Statements> statements_;
  std::function<void()> batch_opened_;  // set by batch_writes()
  bool batch_open_ = false;
  std::uint64_t batches_ = 0;  // batches opened so far
  std::function<void()> snapshot_opened_;  // set by snapshot_reads()
  mutable bool snapshot_open_ = false;
  int wal_limit_pages_ = kWalLimitPages;
  std::unique_ptr<sqlite::WalCheckpointer> checkpointer_;  // started by batch_writes()
};

}  // namespace herald::store
