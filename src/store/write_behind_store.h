#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "store/store.h"

namespace herald::store {

// A Store whose writes run on a thread of its own (a shard's second core), behind a queue:
// the caller's thread (an event loop) only copies each write into the queue, and the writer
// thread applies them to `writer`, a batching store (SqliteStore after batch_writes()), and
// commits them, one transaction for whatever has queued up meanwhile.
//
// The group-commit contract of Store holds, with a delay: a write opens a batch (calling
// `opened`), commit_batch() hands the batch to the writer thread and returns at once, and
// batch_open() stays true until every write handed over so far is durable. Callers hold what
// they send while batch_open() and release it by sequence number: batches_begun() names the
// batch a send waits for, batches_durable() how far the writer has come; the writer calls
// the function given to on_durable() (on its thread) each time that number moves.
//
// Reads: find_user(), list_users() and the presence rules go to `reader`, the caller's own
// connection (users and rules are written by `herald user` and `herald presence`, and never
// queued here). Every other read, and every write whose
// answer carries more than validity (an id, a count, whether the row existed), waits for the
// writer thread to run it after the writes queued before it, so that it sees them.
// Writes answer at once with what the caller can check itself (validate_binding() and the
// like); an error the database finds later (a full disk) is logged by the writer thread,
// and the batch's writes are lost as with a failed commit_batch().
//
// Threading: every method but on_durable()'s callback on the caller's one thread.
class WriteBehindStore final : public Store {
 public:
  // `writer` is used only by the writer thread from now on; `reader` only by the caller's.
  WriteBehindStore(std::unique_ptr<Store> writer, std::unique_ptr<Store> reader);
  WriteBehindStore(const WriteBehindStore&) = delete;
  WriteBehindStore& operator=(const WriteBehindStore&) = delete;
  // Hands over the open batch, waits until everything is durable, stops the thread.
  ~WriteBehindStore() override;

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
  Result<std::int64_t> presence_rules_generation() const override;

  bool batch_writes(const std::function<void()>& opened) override;
  Status commit_batch() override;
  bool batch_open() const override;
  std::uint64_t batches_begun() const override { return begun_; }
  std::uint64_t batches_durable() const override {
    return durable_.load(std::memory_order_acquire);
  }
  void on_durable(const std::function<void()>& notify) override;
  Status wait_durable() override;

 private:
  // A write, or a read run on the writer thread; an error other than kNotFound is logged.
  using Op = std::function<Status(Store&)>;
  struct Job {
    std::vector<Op> ops;
    std::uint64_t batch = 0;  // the batch these ops belong to
  };

  // Queues a write into the open batch, opening one first, and answers ok; before
  // batch_writes(), runs it at once and answers what it returned.
  Status write(Op op);
  // Runs `f(writer)` on the writer thread through run_now() and returns what it returned.
  template <typename F>
  auto call(F f) const -> decltype(f(std::declval<Store&>()));
  // Queues `op`, hands the batch over and waits until the writer thread has run it.
  void run_now(Op op) const;
  void hand_over() const;
  void run();

  std::unique_ptr<Store> writer_;  // used by thread_ only
  std::unique_ptr<Store> reader_;  // used by the caller only
  std::function<void()> opened_;
  std::function<void()> notify_;  // guarded by mutex_; called on thread_
  // The caller's side: the batch being filled. Mutable so that a const read can hand it over.
  mutable std::vector<Op> open_;
  mutable std::uint64_t begun_ = 0;  // batches opened so far; the open one is number begun_

  mutable std::mutex mutex_;
  mutable std::condition_variable wake_;     // the writer: jobs or stopping
  mutable std::condition_variable settled_;  // the caller: durable_ moved
  mutable std::vector<Job> jobs_;            // guarded by mutex_
  // Jobs the writer has run, handed back so that their ops are freed by the caller's thread,
  // which allocated them (see hand_over()). Guarded by mutex_.
  mutable std::vector<Job> spent_;
  bool stopping_ = false;                    // guarded by mutex_
  std::atomic<std::uint64_t> durable_{0};    // batches committed (or failed) so far
  std::thread thread_;
};

}  // namespace herald::store
