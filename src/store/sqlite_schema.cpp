#include "store/sqlite_schema.h"

#include <sqlite3.h>

#include <array>
#include <string>

#include "store/sqlite_handle.h"

namespace herald::store::sqlite {
namespace {

// Migration i (1-based) takes user_version i-1 to i. Append only; never edit a released one.
constexpr std::array<const char*, 2> kMigrations = {
    // 1: users and registrar bindings. Path URIs are joined by '\n' (a URI holds no LF).
    R"sql(
CREATE TABLE users (
  aor        TEXT PRIMARY KEY NOT NULL,
  realm      TEXT NOT NULL,
  ha1_md5    TEXT NOT NULL,
  ha1_sha256 TEXT NOT NULL
);
CREATE TABLE bindings (
  aor        TEXT NOT NULL,
  contact    TEXT NOT NULL,
  call_id    TEXT NOT NULL,
  cseq       INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  q          INTEGER NOT NULL,
  path       TEXT NOT NULL,
  instance   TEXT NOT NULL,
  received   TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (aor, contact)
);
CREATE INDEX bindings_by_expiry ON bindings (expires_at);
)sql",
    // 2: offline messages (RFC 3428 store-and-forward). AUTOINCREMENT so that an id is never
    // reused, even after the newest message is removed: ids only grow, in delivery order.
    // The body is a BLOB so that its bytes come back untouched (NULs, invalid UTF-8).
    R"sql(
CREATE TABLE messages (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  recipient    TEXT NOT NULL,
  from_header  TEXT NOT NULL,
  to_header    TEXT NOT NULL,
  content_type TEXT NOT NULL,
  body         BLOB NOT NULL,
  date_header  TEXT NOT NULL,
  received_at  INTEGER NOT NULL,
  expires_at   INTEGER NOT NULL,
  attempts     INTEGER NOT NULL
);
CREATE INDEX messages_by_recipient ON messages (recipient, id);
CREATE INDEX messages_by_expiry ON messages (expires_at);
)sql",
};

Result<int> read_user_version(sqlite3* db, std::string_view file) {
  StatementHandle statement;
  if (Status s = prepare(db, file, "PRAGMA user_version", statement); !s.ok()) return s;
  StatementUse use(statement.get(), file);
  Result<bool> row = use.step();
  if (!row.ok()) return row.status();
  return *row ? static_cast<int>(use.column_int(0)) : 0;
}

Status too_new(std::string_view file, int found) {
  return Status::error(StatusCode::kUnsupported,
                       std::string(file) + ": database schema version " + std::to_string(found) +
                           " is newer than this Herald supports (" +
                           std::to_string(schema_version()) +
                           "); run a newer Herald or use another data directory");
}

}  // namespace

int schema_version() { return static_cast<int>(kMigrations.size()); }

Status migrate(sqlite3* db, std::string_view file) {
  Result<int> version = read_user_version(db, file);
  if (!version.ok()) return version.status();
  if (*version > schema_version()) return too_new(file, *version);
  if (*version == schema_version()) return Status{};

  Transaction transaction(db, file);
  if (Status s = transaction.begin(); !s.ok()) return s;
  version = read_user_version(db, file);  // another process may have migrated meanwhile
  if (!version.ok()) return version.status();
  if (*version > schema_version()) return too_new(file, *version);
  for (int next = *version + 1; next <= schema_version(); ++next) {
    if (Status s = exec(db, file, kMigrations[static_cast<std::size_t>(next - 1)]); !s.ok()) {
      return Status::error(s.code(), "migration " + std::to_string(next) + ": " + s.message());
    }
  }
  std::string set_version = "PRAGMA user_version = " + std::to_string(schema_version());
  if (Status s = exec(db, file, set_version.c_str()); !s.ok()) return s;
  return transaction.commit();
}

}  // namespace herald::store::sqlite
