#include "store/sqlite_store.h"

#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <system_error>
#include <utility>

#include "store/sqlite_schema.h"
#include "store/sqlite_store_statements.h"

namespace herald::store {

using sqlite::StatementHandle;
using sqlite::StatementUse;

const SqliteStore::Statements::Sql SqliteStore::Statements::sql_table[] = {
    {&Statements::add_user,
     "INSERT INTO users (aor, realm, ha1_md5, ha1_sha256) VALUES (?1, ?2, ?3, ?4) "
     "ON CONFLICT (aor) DO NOTHING"},
    {&Statements::update_user,
     "UPDATE users SET realm = ?2, ha1_md5 = ?3, ha1_sha256 = ?4 WHERE aor = ?1"},
    {&Statements::remove_user, "DELETE FROM users WHERE aor = ?1"},
    {&Statements::find_user, "SELECT aor, realm, ha1_md5, ha1_sha256 FROM users WHERE aor = ?1"},
    {&Statements::begin_batch, "BEGIN IMMEDIATE"},
    {&Statements::commit_batch, "COMMIT"},
    {&Statements::begin_snapshot, "BEGIN"},
    {&Statements::list_users, "SELECT aor, realm, ha1_md5, ha1_sha256 FROM users ORDER BY aor"},
    {&Statements::put_binding,
     "INSERT INTO bindings (aor, contact, call_id, cseq, expires_at, q, path, instance, "
     "received, updated_at, id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) "
     "ON CONFLICT (id) DO UPDATE SET aor = excluded.aor, contact = excluded.contact, "
     "call_id = excluded.call_id, cseq = excluded.cseq, expires_at = excluded.expires_at, "
     "q = excluded.q, path = excluded.path, instance = excluded.instance, "
     "received = excluded.received, updated_at = excluded.updated_at"},
    {&Statements::remove_binding, "DELETE FROM bindings WHERE id = ?1"},
    {&Statements::remove_bindings, "DELETE FROM bindings WHERE aor = ?1"},
    {&Statements::load_bindings,
     "SELECT aor, contact, call_id, cseq, expires_at, q, path, instance, received, "
     "updated_at, id FROM bindings ORDER BY id"},
    {&Statements::remove_expired, "DELETE FROM bindings WHERE expires_at <= ?1"},
    {&Statements::store_message,
     "INSERT INTO messages (recipient, from_header, to_header, content_type, body, "
     "date_header, received_at, expires_at, attempts) "
     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"},
    {&Statements::pending_messages,
     "SELECT id, recipient, from_header, to_header, content_type, body, date_header, "
     "received_at, expires_at, attempts FROM messages WHERE recipient = ?1 ORDER BY id"},
    {&Statements::count_messages, "SELECT count(*) FROM messages WHERE recipient = ?1"},
    {&Statements::message_recipients, "SELECT DISTINCT recipient FROM messages ORDER BY recipient"},
    {&Statements::remove_message, "DELETE FROM messages WHERE id = ?1"},
    {&Statements::set_message_attempts, "UPDATE messages SET attempts = ?2 WHERE id = ?1"},
    {&Statements::remove_expired_messages, "DELETE FROM messages WHERE expires_at <= ?1"},
    {&Statements::put_publication,
     "INSERT INTO publications (etag, presentity, event, content_type, body, sequence, "
     "expires_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
     "ON CONFLICT (etag) DO UPDATE SET presentity = excluded.presentity, "
     "event = excluded.event, content_type = excluded.content_type, body = excluded.body, "
     "sequence = excluded.sequence, expires_at = excluded.expires_at, "
     "updated_at = excluded.updated_at"},
    {&Statements::remove_publication, "DELETE FROM publications WHERE etag = ?1"},
    {&Statements::load_publications,
     "SELECT etag, presentity, event, content_type, body, sequence, expires_at, updated_at "
     "FROM publications ORDER BY presentity, sequence, etag"},
    {&Statements::remove_expired_publications, "DELETE FROM publications WHERE expires_at <= ?1"},
    {&Statements::put_subscription,
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
    {&Statements::remove_subscription, "DELETE FROM subscriptions WHERE key = ?1"},
    {&Statements::load_subscriptions,
     "SELECT key, package, event_id, resource, watcher, watcher_display, call_id, "
     "local_tag, remote_tag, local_uri, remote_uri, remote_target, route_set, flow, "
     "content_type, remote_cseq, local_cseq, expires_at, state "
     "FROM subscriptions ORDER BY key"},
    {&Statements::set_presence_rule,
     "INSERT INTO presence_rules (presentity, watcher, action) VALUES (?1, ?2, ?3) "
     "ON CONFLICT (presentity, watcher) DO UPDATE SET action = excluded.action"},
    {&Statements::remove_presence_rule,
     "DELETE FROM presence_rules WHERE presentity = ?1 AND watcher = ?2"},
    {&Statements::load_presence_rules,
     "SELECT presentity, watcher, action FROM presence_rules ORDER BY presentity, watcher"},
    {&Statements::presence_rules_generation,
     "SELECT value FROM counters WHERE name = 'presence_rules'"},
    {&Statements::users_generation, "SELECT value FROM counters WHERE name = 'users'"},
};

Status SqliteStore::Statements::prepare_all(sqlite3* db, std::string_view file) {
  for (const auto& [handle, sql] : sql_table) {
    if (Status s = sqlite::prepare(db, file, sql, this->*handle); !s.ok()) return s;
  }
  return Status{};
}

namespace {

User read_user(const StatementUse& row) {
  return User{row.column_text(0), row.column_text(1), row.column_text(2), row.column_text(3)};
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
  return sqlite::require_changed(use.run(), [&] { return "no user " + user.aor; });
}

Status SqliteStore::remove_user(std::string_view aor) {
  if (Status s = before_write(); !s.ok()) return s;
  StatementUse use(statements_->remove_user.get(), file_);
  use.bind(1, aor);
  return sqlite::require_changed(use.run(), [&] { return "no user " + std::string(aor); });
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
