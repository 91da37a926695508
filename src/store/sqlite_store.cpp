#include "store/sqlite_store.h"

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

  Status prepare_all(sqlite3* db, std::string_view file) {
    const std::pair<StatementHandle*, const char*> all[] = {
        {&add_user,
         "INSERT INTO users (aor, realm, ha1_md5, ha1_sha256) VALUES (?1, ?2, ?3, ?4) "
         "ON CONFLICT (aor) DO NOTHING"},
        {&update_user, "UPDATE users SET realm = ?2, ha1_md5 = ?3, ha1_sha256 = ?4 WHERE aor = ?1"},
        {&remove_user, "DELETE FROM users WHERE aor = ?1"},
        {&find_user, "SELECT aor, realm, ha1_md5, ha1_sha256 FROM users WHERE aor = ?1"},
        {&list_users, "SELECT aor, realm, ha1_md5, ha1_sha256 FROM users ORDER BY aor"},
        {&put_binding,
         "INSERT INTO bindings (aor, contact, call_id, cseq, expires_at, q, path, instance, "
         "received, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
         "ON CONFLICT (aor, contact) DO UPDATE SET call_id = excluded.call_id, "
         "cseq = excluded.cseq, expires_at = excluded.expires_at, q = excluded.q, "
         "path = excluded.path, instance = excluded.instance, received = excluded.received, "
         "updated_at = excluded.updated_at"},
        {&remove_binding, "DELETE FROM bindings WHERE aor = ?1 AND contact = ?2"},
        {&remove_bindings, "DELETE FROM bindings WHERE aor = ?1"},
        {&load_bindings,
         "SELECT aor, contact, call_id, cseq, expires_at, q, path, instance, received, "
         "updated_at FROM bindings ORDER BY aor, contact"},
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
    };
    for (const auto& [handle, sql] : all) {
      if (Status s = sqlite::prepare(db, file, sql, *handle); !s.ok()) return s;
    }
    return Status{};
  }
};

namespace {

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

SqliteStore::~SqliteStore() = default;

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
  if (user.aor.empty()) return Status::invalid_argument("user has an empty AOR");
  StatementUse use(statements_->add_user.get(), file_);
  use.bind(1, user.aor).bind(2, user.realm).bind(3, user.ha1_md5).bind(4, user.ha1_sha256);
  Result<std::size_t> changed = use.run();
  if (!changed.ok()) return changed.status();
  if (*changed == 0) return Status::already_exists("user " + user.aor + " already exists");
  return Status{};
}

Status SqliteStore::update_user(const User& user) {
  StatementUse use(statements_->update_user.get(), file_);
  use.bind(1, user.aor).bind(2, user.realm).bind(3, user.ha1_md5).bind(4, user.ha1_sha256);
  Result<std::size_t> changed = use.run();
  if (!changed.ok()) return changed.status();
  if (*changed == 0) return Status::not_found("no user " + user.aor);
  return Status{};
}

Status SqliteStore::remove_user(std::string_view aor) {
  StatementUse use(statements_->remove_user.get(), file_);
  use.bind(1, aor);
  Result<std::size_t> changed = use.run();
  if (!changed.ok()) return changed.status();
  if (*changed == 0) return Status::not_found("no user " + std::string(aor));
  return Status{};
}

Result<User> SqliteStore::find_user(std::string_view aor) const {
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
      .bind(10, binding.updated_at);
  return use.run().status();
}

Status SqliteStore::remove_binding(std::string_view aor, std::string_view contact) {
  StatementUse use(statements_->remove_binding.get(), file_);
  use.bind(1, aor).bind(2, contact);
  Result<std::size_t> changed = use.run();
  if (!changed.ok()) return changed.status();
  if (*changed == 0) {
    return Status::not_found("no binding of " + std::string(aor) + " to " + std::string(contact));
  }
  return Status{};
}

Result<std::size_t> SqliteStore::remove_bindings(std::string_view aor) {
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
  }
  if (!row.ok()) return row.status();
  return bindings;
}

Result<std::size_t> SqliteStore::remove_expired(std::int64_t now) {
  StatementUse use(statements_->remove_expired.get(), file_);
  use.bind(1, now);
  return use.run();
}

Result<std::int64_t> SqliteStore::store_message(const StoredMessage& message) {
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
  StatementUse use(statements_->remove_message.get(), file_);
  use.bind(1, id);
  Result<std::size_t> changed = use.run();
  if (!changed.ok()) return changed.status();
  if (*changed == 0) return Status::not_found(no_message(id));
  return Status{};
}

Status SqliteStore::set_message_attempts(std::int64_t id, std::uint32_t attempts) {
  StatementUse use(statements_->set_message_attempts.get(), file_);
  use.bind(1, id).bind(2, std::int64_t{attempts});
  Result<std::size_t> changed = use.run();
  if (!changed.ok()) return changed.status();
  if (*changed == 0) return Status::not_found(no_message(id));
  return Status{};
}

Result<std::size_t> SqliteStore::remove_expired_messages(std::int64_t now) {
  StatementUse use(statements_->remove_expired_messages.get(), file_);
  use.bind(1, now);
  return use.run();
}

}  // namespace herald::store
