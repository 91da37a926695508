#include "store/sqlite_store.h"

#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <system_error>
#include <utility>

#include "store/sqlite_schema.h"

namespace herald::store {

using sqlite::StatementHandle;
using sqlite::StatementUse;

struct SqliteStore::Statements {
  StatementHandle add_user;
  StatementHandle update_user;
  StatementHandle remove_user;
  StatementHandle find_user;
  StatementHandle list_users;
  StatementHandle put_binding;
  StatementHandle remove_binding;
  StatementHandle remove_bindings;
  StatementHandle load_bindings;
  StatementHandle remove_expired;
  StatementHandle store_message;
  StatementHandle pending_messages;
  StatementHandle count_messages;
  StatementHandle message_recipients;
  StatementHandle remove_message;
  StatementHandle set_message_attempts;
  StatementHandle remove_expired_messages;
  StatementHandle put_publication;
  StatementHandle remove_publication;
  StatementHandle load_publications;
  StatementHandle remove_expired_publications;
  StatementHandle put_subscription;
  StatementHandle remove_subscription;
  StatementHandle load_subscriptions;
  StatementHandle set_presence_rule;
  StatementHandle remove_presence_rule;
  StatementHandle load_presence_rules;
  StatementHandle presence_rules_generation;
  StatementHandle users_generation;
  StatementHandle begin_batch;   // a batch's transaction, prepared once: a server opens
  StatementHandle commit_batch;  // and commits one per loop turn
  StatementHandle begin_snapshot;  // a read snapshot's transaction, as a batch's

  Status prepare_all(sqlite3* db, std::string_view file) {
    const std::pair<StatementHandle*, const char*> all[] = {
        {&add_user,
         "INSERT INTO users (aor, realm, ha1_md5, ha1_sha256) VALUES (?1, ?2, ?3, ?4) "
         "ON CONFLICT (aor) DO NOTHING"},
        {&update_user, "UPDATE users SET realm = ?2, ha1_md5 = ?3, ha1_sha256 = ?4 WHERE aor = ?1"},
        {&remove_user, "DELETE FROM users WHERE aor = ?1"},
        {&find_user, "SELECT aor, realm, ha1_md5, ha1_sha256 FROM users WHERE aor = ?1"},
        {&begin_batch, "BEGIN IMMEDIATE"},
        {&commit_batch, "COMMIT"},
        {&begin_snapshot, "BEGIN"},
        {&list_users, "SELECT aor, realm, ha1_md5, ha1_sha256 FROM users ORDER BY aor"},
        {&put_binding,
         "INSERT INTO bindings (aor, contact, call_id, cseq, expires_at, q, path, instance, "
         "received, updated_at, id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) "
         "ON CONFLICT (id) DO UPDATE SET aor = excluded.aor, contact = excluded.contact, "
         "call_id = excluded.call_id, cseq = excluded.cseq, expires_at = excluded.expires_at, "
         "q = excluded.q, path = excluded.path, instance = excluded.instance, "
         "received = excluded.received, updated_at = excluded.updated_at"},
        {&remove_binding, "DELETE FROM bindings WHERE id = ?1"},
        {&remove_bindings, "DELETE FROM bindings WHERE aor = ?1"},
        {&load_bindings,
         "SELECT aor, contact, call_id, cseq, expires_at, q, path, instance, received, "
         "updated_at, id FROM bindings ORDER BY id"},
        {&remove_expired, "DELETE FROM bindings WHERE expires_at <= ?1"},
        {&store_message,
         "INSERT INTO messages (recipient, from_header, to_header, content_type, body, "
         "date_header, received_at, expires_at, attempts) "
         "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"},
        {&pending_messages,
         "SELECT id, recipient, from_header, to_header, content_type, body, date_header, "
         "received_at, expires_at, attempts FROM messages WHERE recipient = ?1 ORDER BY id"},
        {&count_messages, "SELECT count(*) FROM messages WHERE recipient = ?1"},
        {&message_recipients, "SELECT DISTINCT recipient FROM messages ORDER BY recipient"},
        {&remove_message, "DELETE FROM messages WHERE id = ?1"},
        {&set_message_attempts, "UPDATE messages SET attempts = ?2 WHERE id = ?1"},
        {&remove_expired_messages, "DELETE FROM messages WHERE expires_at <= ?1"},
        {&put_publication,
         "INSERT INTO publications (etag, presentity, event, content_type, body, sequence, "
         "expires_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
         "ON CONFLICT (etag) DO UPDATE SET presentity = excluded.presentity, "
         "event = excluded.event, content_type = excluded.content_type, body = excluded.body, "
         "sequence = excluded.sequence, expires_at = excluded.expires_at, "
         "updated_at = excluded.updated_at"},
        {&remove_publication, "DELETE FROM publications WHERE etag = ?1"},
        {&load_publications,
         "SELECT etag, presentity, event, content_type, body, sequence, expires_at, updated_at "
         "FROM publications ORDER BY presentity, sequence, etag"},
        {&remove_expired_publications, "DELETE FROM publications WHERE expires_at <= ?1"},
        {&put_subscription,
         "INSERT INTO subscriptions (key, package, event_id, resource, watcher, "
         "watcher_display, call_id, local_tag, remote_tag, local_uri, remote_uri, "
         "remote_target, route_set, flow, content_type, remote_cseq, local_cseq, expires_at, "
         "state) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, "
         "?16, ?17, ?18, ?19) "
         "ON CONFLICT (key) DO UPDATE SET package = excluded.package, "
         "event_id = excluded.event_id, resource = excluded.resource, "
         "watcher = excluded.watcher, watcher_display = excluded.watcher_display, "
         "call_id = excluded.call_id, local_tag = excluded.local_tag, "
         "remote_tag = excluded.remote_tag, local_uri = excluded.local_uri, "
         "remote_uri = excluded.remote_uri, remote_target = excluded.remote_target, "
         "route_set = excluded.route_set, flow = excluded.flow, "
         "content_type = excluded.content_type, remote_cseq = excluded.remote_cseq, "
         "local_cseq = excluded.local_cseq, expires_at = excluded.expires_at, "
         "state = excluded.state"},
        {&remove_subscription, "DELETE FROM subscriptions WHERE key = ?1"},
        {&load_subscriptions,
         "SELECT key, package, event_id, resource, watcher, watcher_display, call_id, "
         "local_tag, remote_tag, local_uri, remote_uri, remote_target, route_set, flow, "
         "content_type, remote_cseq, local_cseq, expires_at, state "
         "FROM subscriptions ORDER BY key"},
        {&set_presence_rule,
         "INSERT INTO presence_rules (presentity, watcher, action) VALUES (?1, ?2, ?3) "
         "ON CONFLICT (presentity, watcher) DO UPDATE SET action = excluded.action"},
        {&remove_presence_rule,
         "DELETE FROM presence_rules WHERE presentity = ?1 AND watcher = ?2"},
        {&load_presence_rules,
         "SELECT presentity, watcher, action FROM presence_rules ORDER BY presentity, watcher"},
        {&presence_rules_generation, "SELECT value FROM counters WHERE name = 'presence_rules'"},
        {&users_generation, "SELECT value FROM counters WHERE name = 'users'"},
    };
    for (const auto& [handle, sql] : all) {
      if (Status s = sqlite::prepare(db, file, sql, *handle); !s.ok()) return s;
    }
    return Status{};
  }
};

namespace {

// A binding's Path or a subscription's route set as one column: the URIs joined by '\n'
// (validation has made sure none is empty or holds one).
std::string join_path(const std::vector<std::string>& path) {
  std::string joined;
  for (const std::string& uri : path) {
    if (!joined.empty()) joined.push_back('\n');
    joined.append(uri);
  }
  return joined;
}

std::vector<std::string> split_path(std::string_view joined) {
  std::vector<std::string> path;
  while (!joined.empty()) {
    std::size_t end = joined.find('\n');
    path.emplace_back(joined.substr(0, end));
    joined = end == std::string_view::npos ? std::string_view{} : joined.substr(end + 1);
  }
  return path;
}

User read_user(const StatementUse& row) {
  return User{row.column_text(0), row.column_text(1), row.column_text(2), row.column_text(3)};
}

StoredMessage read_message(const StatementUse& row) {
  StoredMessage m;
  m.id = row.column_int(0);
  m.recipient = row.column_text(1);
  m.from = row.column_text(2);
  m.to = row.column_text(3);
  m.content_type = row.column_text(4);
  m.body = row.column_blob(5);
  m.date = row.column_text(6);
  m.received_at = row.column_int(7);
  m.expires_at = row.column_int(8);
  m.attempts = static_cast<std::uint32_t>(row.column_int(9));
  return m;
}

std::string no_message(std::int64_t id) { return "no stored message " + std::to_string(id); }

Publication read_publication(const StatementUse& row) {
  Publication p;
  p.etag = row.column_text(0);
  p.presentity = row.column_text(1);
  p.event = row.column_text(2);
  p.content_type = row.column_text(3);
  p.body = row.column_blob(4);
  p.sequence = row.column_int(5);
  p.expires_at = row.column_int(6);
  p.updated_at = row.column_int(7);
  return p;
}

SubscriptionRecord read_subscription(const StatementUse& row) {
  SubscriptionRecord r;
  r.key = row.column_text(0);
  r.package = row.column_text(1);
  r.event_id = row.column_text(2);
  r.resource = row.column_text(3);
  r.watcher = row.column_text(4);
  r.watcher_display = row.column_text(5);
  r.call_id = row.column_text(6);
  r.local_tag = row.column_text(7);
  r.remote_tag = row.column_text(8);
  r.local_uri = row.column_text(9);
  r.remote_uri = row.column_text(10);
  r.remote_target = row.column_text(11);
  r.route_set = split_path(row.column_text(12));
  r.flow = row.column_text(13);
  r.content_type = row.column_text(14);
  r.remote_cseq = static_cast<std::uint32_t>(row.column_int(15));
  r.local_cseq = static_cast<std::uint32_t>(row.column_int(16));
  r.expires_at = row.column_int(17);
  r.state = row.column_text(18);
  return r;
}

// Steps `use` to the end, appending read(use) for each row.
template <typename T, typename Read>
Result<std::vector<T>> read_all(StatementUse& use, Read read) {
  std::vector<T> all;
  Result<bool> row = use.step();
  for (; row.ok() && *row; row = use.step()) all.push_back(read(use));
  if (!row.ok()) return row.status();
  return all;
}

Status read_pragma_text(sqlite3* db, std::string_view file, const char* sql, std::string& out) {
  StatementHandle statement;
  if (Status s = sqlite::prepare(db, file, sql, statement); !s.ok()) return s;
  StatementUse use(statement.get(), file);
  Result<bool> row = use.step();
  if (!row.ok()) return row.status();
  out = *row ? use.column_text(0) : std::string();
  return Status{};
}

}  // namespace

SqliteStore::SqliteStore(sqlite::DbHandle db, std::string file)
    : file_(std::move(file)), db_(std::move(db)), statements_(std::make_unique<Statements>()) {}

SqliteStore::~SqliteStore() {
  // The owner commits (and reports errors) before; this only keeps an open batch from being
  // rolled back when the connection closes.
  static_cast<void>(commit_batch());
  end_snapshot();
}

bool SqliteStore::batch_writes(const std::function<void()>& opened) {
  batch_opened_ = opened;
  if (!checkpointer_) {
    // The caller is an event loop: checkpoints move off its thread, but for the rare one at
    // the WAL's limit. If that cannot be set up, the automatic checkpoints every 1,000 pages
    // stay (slower answers now and then, nothing lost).
    auto checkpointer = std::make_unique<sqlite::WalCheckpointer>();
    const std::string limit = "PRAGMA wal_autocheckpoint = " + std::to_string(wal_limit_pages_);
    if (checkpointer->start(file_, std::chrono::milliseconds(500)).ok() &&
        sqlite::exec(db_.get(), file_, limit.c_str()).ok()) {
      checkpointer_ = std::move(checkpointer);
    }
  }
  return true;
}

Status SqliteStore::before_write() {
  if (!batch_opened_ || batch_open_) return {};
  if (Status s = StatementUse(statements_->begin_batch.get(), file_).run().status(); !s.ok()) return s;
  batch_open_ = true;
  ++batches_;
  batch_opened_();
  return {};
}

Status SqliteStore::commit_batch() {
  if (!batch_open_) return {};
  batch_open_ = false;
  Status status = StatementUse(statements_->commit_batch.get(), file_).run().status();
  if (!status.ok()) sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
  return status;
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::filesystem::path& data_dir,
                                                       int busy_timeout_ms) {
  if (data_dir.empty()) return Status::invalid_argument("store data directory is not set");
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) {
    return Status::error(StatusCode::kIoError,
                         "cannot create data directory " + data_dir.string() + ": " + ec.message());
  }
  std::string file = (data_dir / kFileName).string();

  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(file.c_str(), &raw,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  sqlite::DbHandle db(raw);
  if (rc != SQLITE_OK) return sqlite::error_status(db.get(), rc, file, "open");
  std::unique_ptr<SqliteStore> store(new SqliteStore(std::move(db), file));
  sqlite3* handle = store->db_.get();
  const std::string& name = store->file_;

  sqlite3_busy_timeout(handle, busy_timeout_ms);
  std::string journal_mode;
  if (Status s = read_pragma_text(handle, name, "PRAGMA journal_mode = WAL", journal_mode);
      !s.ok()) {
    return s;
  }
  if (journal_mode != "wal") {
    return Status::error(StatusCode::kIoError,
                         name + ": cannot switch to WAL journal mode (still " + journal_mode + ")");
  }
  if (Status s = sqlite::exec(handle, name, "PRAGMA synchronous = NORMAL"); !s.ok()) return s;
  if (Status s = sqlite::exec(handle, name, "PRAGMA foreign_keys = ON"); !s.ok()) return s;
  if (Status s = sqlite::migrate(handle, name); !s.ok()) return s;
  if (Status s = store->statements_->prepare_all(handle, name); !s.ok()) return s;
  return store;
}

Status SqliteStore::add_user(const User& user) {
  if (Status s = before_write(); !s.ok()) return s;
  if (user.aor.empty()) return Status::invalid_argument("user has an empty AOR");
  StatementUse use(statements_->add_user.get(), file_);
  use.bind(1, user.aor).bind(2, user.realm).bind(3, user.ha1_md5).bind(4, user.ha1_sha256);
  Result<std::size_t> changed = use.run();
  if (!changed.ok()) return changed.status();
  if (*changed == 0) return Status::already_exists("user " + user.aor + " already exists");
  return Status{};
}

Status SqliteStore::update_user(const User& user) {
  if (Status s = before_write(); !s.ok()) return s;
  StatementUse use(statements_->update_user.get(), file_);
  use.bind(1, user.aor).bind(2, user.realm).bind(3, user.ha1_md5).bind(4, user.ha1_sha256);
  Result<std::size_t> changed = use.run();
  if (!changed.ok()) return changed.status();
  if (*changed == 0) return Status::not_found("no user " + user.aor);
  return Status{};
}

Status SqliteStore::remove_user(std::string_view aor) {
  if (Status s = before_write(); !s.ok()) return s;
  StatementUse use(statements_->remove_user.get(), file_);
  use.bind(1, aor);
  Result<std::size_t> changed = use.run();
  if (!changed.ok()) return changed.status();
  if (*changed == 0) return Status::not_found("no user " + std::string(aor));
  return Status{};
}

bool SqliteStore::snapshot_reads(const std::function<void()>& opened) {
  snapshot_opened_ = opened;
  return true;
}

void SqliteStore::end_snapshot() {
  if (!snapshot_open_) return;
  snapshot_open_ = false;
  // A read transaction's COMMIT only lets its locks go; it cannot fail for want of space.
  if (Status s = StatementUse(statements_->commit_batch.get(), file_).run().status(); !s.ok()) {
    spdlog::warn("store: ending a read snapshot: {}", s.message());
  }
}

Result<User> SqliteStore::find_user(std::string_view aor) const {
  if (snapshot_opened_ && !snapshot_open_ && !batch_open_) {
    if (StatementUse(statements_->begin_snapshot.get(), file_).run().ok()) {
      snapshot_open_ = true;
      snapshot_opened_();
    }
  }
  StatementUse use(statements_->find_user.get(), file_);
  use.bind(1, aor);
  Result<bool> row = use.step();
  if (!row.ok()) return row.status();
  if (!*row) return Status::not_found("no user " + std::string(aor));
  return read_user(use);
}

Result<std::vector<User>> SqliteStore::list_users() const {
  StatementUse use(statements_->list_users.get(), file_);
  std::vector<User> users;
  Result<bool> row = use.step();
  for (; row.ok() && *row; row = use.step()) users.push_back(read_user(use));
  if (!row.ok()) return row.status();
  return users;
}

Status SqliteStore::put_binding(const Binding& binding) {
  if (Status s = before_write(); !s.ok()) return s;
  if (Status valid = validate_binding(binding); !valid.ok()) return valid;
  std::string path = join_path(binding.path);  // outlives use: bound without copying
  StatementUse use(statements_->put_binding.get(), file_);
  use.bind(1, binding.aor)
      .bind(2, binding.contact)
      .bind(3, binding.call_id)
      .bind(4, std::int64_t{binding.cseq})
      .bind(5, binding.expires_at)
      .bind(6, std::int64_t{binding.q})
      .bind(7, path)
      .bind(8, binding.instance)
      .bind(9, binding.received)
      .bind(10, binding.updated_at)
      .bind(11, binding.id);
  return use.run().status();
}

Status SqliteStore::remove_binding(std::int64_t id) {
  if (Status s = before_write(); !s.ok()) return s;
  StatementUse use(statements_->remove_binding.get(), file_);
  use.bind(1, id);
  Result<std::size_t> changed = use.run();
  if (!changed.ok()) return changed.status();
  if (*changed == 0) return Status::not_found("no binding with id " + std::to_string(id));
  return Status{};
}

Result<std::size_t> SqliteStore::remove_bindings(std::string_view aor) {
  if (Status s = before_write(); !s.ok()) return s;
  StatementUse use(statements_->remove_bindings.get(), file_);
  use.bind(1, aor);
  return use.run();
}

Result<std::vector<Binding>> SqliteStore::load_bindings() const {
  StatementUse use(statements_->load_bindings.get(), file_);
  std::vector<Binding> bindings;
  Result<bool> row = use.step();
  for (; row.ok() && *row; row = use.step()) {
    Binding& b = bindings.emplace_back();
    b.aor = use.column_text(0);
    b.contact = use.column_text(1);
    b.call_id = use.column_text(2);
    b.cseq = static_cast<std::uint32_t>(use.column_int(3));
    b.expires_at = use.column_int(4);
    b.q = static_cast<int>(use.column_int(5));
    b.path = split_path(use.column_text(6));
    b.instance = use.column_text(7);
    b.received = use.column_text(8);
    b.updated_at = use.column_int(9);
    b.id = use.column_int(10);
  }
  if (!row.ok()) return row.status();
  return bindings;
}

Result<std::size_t> SqliteStore::remove_expired(std::int64_t now) {
  if (Status s = before_write(); !s.ok()) return s;
  StatementUse use(statements_->remove_expired.get(), file_);
  use.bind(1, now);
  return use.run();
}

Result<std::int64_t> SqliteStore::store_message(const StoredMessage& message) {
  if (Status s = before_write(); !s.ok()) return s;
  if (message.recipient.empty()) return Status::invalid_argument("message has an empty recipient");
  StatementUse use(statements_->store_message.get(), file_);
  use.bind(1, message.recipient)
      .bind(2, message.from)
      .bind(3, message.to)
      .bind(4, message.content_type)
      .bind_blob(5, message.body)
      .bind(6, message.date)
      .bind(7, message.received_at)
      .bind(8, message.expires_at)
      .bind(9, std::int64_t{message.attempts});
  Result<std::size_t> changed = use.run();
  if (!changed.ok()) return changed.status();
  // The connection is this object's alone, so the last insert on it is this one.
  return sqlite3_last_insert_rowid(db_.get());
}

Result<std::vector<StoredMessage>> SqliteStore::pending_messages(std::string_view recipient) const {
  StatementUse use(statements_->pending_messages.get(), file_);
  use.bind(1, recipient);
  std::vector<StoredMessage> messages;
  Result<bool> row = use.step();
  for (; row.ok() && *row; row = use.step()) messages.push_back(read_message(use));
  if (!row.ok()) return row.status();
  return messages;
}

Result<std::size_t> SqliteStore::count_messages(std::string_view recipient) const {
  StatementUse use(statements_->count_messages.get(), file_);
  use.bind(1, recipient);
  Result<bool> row = use.step();
  if (!row.ok()) return row.status();
  return *row ? static_cast<std::size_t>(use.column_int(0)) : std::size_t{0};
}

Result<std::vector<std::string>> SqliteStore::message_recipients() const {
  StatementUse use(statements_->message_recipients.get(), file_);
  std::vector<std::string> recipients;
  Result<bool> row = use.step();
  for (; row.ok() && *row; row = use.step()) recipients.push_back(use.column_text(0));
  if (!row.ok()) return row.status();
  return recipients;
}

Status SqliteStore::remove_message(std::int64_t id) {
  if (Status s = before_write(); !s.ok()) return s;
  StatementUse use(statements_->remove_message.get(), file_);
  use.bind(1, id);
  Result<std::size_t> changed = use.run();
  if (!changed.ok()) return changed.status();
  if (*changed == 0) return Status::not_found(no_message(id));
  return Status{};
}

Status SqliteStore::set_message_attempts(std::int64_t id, std::uint32_t attempts) {
  if (Status s = before_write(); !s.ok()) return s;
  StatementUse use(statements_->set_message_attempts.get(), file_);
  use.bind(1, id).bind(2, std::int64_t{attempts});
  Result<std::size_t> changed = use.run();
  if (!changed.ok()) return changed.status();
  if (*changed == 0) return Status::not_found(no_message(id));
  return Status{};
}

Result<std::size_t> SqliteStore::remove_expired_messages(std::int64_t now) {
  if (Status s = before_write(); !s.ok()) return s;
  StatementUse use(statements_->remove_expired_messages.get(), file_);
  use.bind(1, now);
  return use.run();
}

Status SqliteStore::put_publication(const Publication& publication, std::string_view replaces) {
  if (Status s = before_write(); !s.ok()) return s;
  if (Status valid = validate_publication(publication); !valid.ok()) return valid;
  bool removes_other = !replaces.empty() && replaces != publication.etag;
  sqlite::Transaction transaction(db_.get(), file_);
  if (removes_other) {
    if (Status s = transaction.begin(); !s.ok()) return s;
    StatementUse remove(statements_->remove_publication.get(), file_);
    remove.bind(1, replaces);
    if (Status s = remove.run().status(); !s.ok()) return s;  // none left is fine: see store.h
  }
  {
    StatementUse use(statements_->put_publication.get(), file_);
    use.bind(1, publication.etag)
        .bind(2, publication.presentity)
        .bind(3, publication.event)
        .bind(4, publication.content_type)
        .bind_blob(5, publication.body)
        .bind(6, publication.sequence)
        .bind(7, publication.expires_at)
        .bind(8, publication.updated_at);
    if (Status s = use.run().status(); !s.ok()) return s;
  }
  return removes_other ? transaction.commit() : Status{};
}

Status SqliteStore::remove_publication(std::string_view etag) {
  if (Status s = before_write(); !s.ok()) return s;
  StatementUse use(statements_->remove_publication.get(), file_);
  use.bind(1, etag);
  Result<std::size_t> changed = use.run();
  if (!changed.ok()) return changed.status();
  if (*changed == 0) return Status::not_found("no publication " + std::string(etag));
  return Status{};
}

Result<std::vector<Publication>> SqliteStore::load_publications() const {
  StatementUse use(statements_->load_publications.get(), file_);
  return read_all<Publication>(use, read_publication);
}

Result<std::size_t> SqliteStore::remove_expired_publications(std::int64_t now) {
  if (Status s = before_write(); !s.ok()) return s;
  StatementUse use(statements_->remove_expired_publications.get(), file_);
  use.bind(1, now);
  return use.run();
}

Status SqliteStore::put_subscription(const SubscriptionRecord& subscription) {
  if (Status s = before_write(); !s.ok()) return s;
  if (Status valid = validate_subscription(subscription); !valid.ok()) return valid;
  std::string route_set = join_path(subscription.route_set);  // outlives use: bound without copying
  const SubscriptionRecord& r = subscription;
  StatementUse use(statements_->put_subscription.get(), file_);
  use.bind(1, r.key)
      .bind(2, r.package)
      .bind(3, r.event_id)
      .bind(4, r.resource)
      .bind(5, r.watcher)
      .bind(6, r.watcher_display)
      .bind(7, r.call_id)
      .bind(8, r.local_tag)
      .bind(9, r.remote_tag)
      .bind(10, r.local_uri)
      .bind(11, r.remote_uri)
      .bind(12, r.remote_target)
      .bind(13, route_set)
      .bind(14, r.flow)
      .bind(15, r.content_type)
      .bind(16, std::int64_t{r.remote_cseq})
      .bind(17, std::int64_t{r.local_cseq})
      .bind(18, r.expires_at)
      .bind(19, r.state);
  return use.run().status();
}

Status SqliteStore::remove_subscription(std::string_view key) {
  if (Status s = before_write(); !s.ok()) return s;
  StatementUse use(statements_->remove_subscription.get(), file_);
  use.bind(1, key);
  Result<std::size_t> changed = use.run();
  if (!changed.ok()) return changed.status();
  if (*changed == 0) return Status::not_found("no subscription " + std::string(key));
  return Status{};
}

Result<std::vector<SubscriptionRecord>> SqliteStore::load_subscriptions() const {
  StatementUse use(statements_->load_subscriptions.get(), file_);
  return read_all<SubscriptionRecord>(use, read_subscription);
}

Status SqliteStore::set_presence_rule(const PresenceRule& rule) {
  if (Status s = before_write(); !s.ok()) return s;
  if (Status valid = validate_presence_rule(rule); !valid.ok()) return valid;
  StatementUse use(statements_->set_presence_rule.get(), file_);
  use.bind(1, rule.presentity).bind(2, rule.watcher).bind(3, rule.action);
  return use.run().status();
}

Status SqliteStore::remove_presence_rule(std::string_view presentity, std::string_view watcher) {
  if (Status s = before_write(); !s.ok()) return s;
  StatementUse use(statements_->remove_presence_rule.get(), file_);
  use.bind(1, presentity).bind(2, watcher);
  Result<std::size_t> changed = use.run();
  if (!changed.ok()) return changed.status();
  if (*changed == 0) {
    return Status::not_found("no presence rule of " + std::string(presentity) + " for " +
                             std::string(watcher));
  }
  return Status{};
}

Result<std::vector<PresenceRule>> SqliteStore::load_presence_rules() const {
  StatementUse use(statements_->load_presence_rules.get(), file_);
  return read_all<PresenceRule>(use, [](const StatementUse& row) {
    return PresenceRule{row.column_text(0), row.column_text(1), row.column_text(2)};
  });
}

Result<std::int64_t> SqliteStore::read_counter(sqlite3_stmt* statement, std::string_view name) const {
  StatementUse use(statement, file_);
  Result<bool> row = use.step();
  if (!row.ok()) return row.status();
  if (!*row) {
    return Status::error(StatusCode::kCorruption,
                         file_ + ": the '" + std::string(name) + "' row of the counters table is missing");
  }
  return use.column_int(0);
}

Result<std::int64_t> SqliteStore::presence_rules_generation() const {
  return read_counter(statements_->presence_rules_generation.get(), "presence_rules");
}

Result<std::int64_t> SqliteStore::users_generation() const {
  return read_counter(statements_->users_generation.get(), "users");
}

}  // namespace herald::store
