#include "store/sqlite_schema.h"

#include <sqlite3.h>

#include <array>
#include <string>

#include "store/sqlite_handle.h"

namespace herald::store::sqlite {
namespace {

// Migration i (1-based) takes user_version i-1 to i. Append only; never edit a released one.
constexpr std::array<const char*, 6> kMigrations = {
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
    // 3: presence. Publications (RFC 3903), body a BLOB as in messages; subscription dialogs
    // (RFC 6665), route_set joined by '\n' like bindings.path; authorization rules (RFC 5025).
    // counters holds one row per number that other processes poll: 'presence_rules' is
    // incremented by the triggers in the transaction of every statement that inserts,
    // changes or deletes a rule, whoever writes it, so one indexed read tells a change.
    R"sql(
CREATE TABLE publications (
  etag         TEXT PRIMARY KEY NOT NULL,
  presentity   TEXT NOT NULL,
  event        TEXT NOT NULL,
  content_type TEXT NOT NULL,
  body         BLOB NOT NULL,
  sequence     INTEGER NOT NULL,
  expires_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL
);
CREATE INDEX publications_by_presentity ON publications (presentity, sequence);
CREATE INDEX publications_by_expiry ON publications (expires_at);
CREATE TABLE subscriptions (
  key             TEXT PRIMARY KEY NOT NULL,
  package         TEXT NOT NULL,
  event_id        TEXT NOT NULL,
  resource        TEXT NOT NULL,
  watcher         TEXT NOT NULL,
  watcher_display TEXT NOT NULL,
  call_id         TEXT NOT NULL,
  local_tag       TEXT NOT NULL,
  remote_tag      TEXT NOT NULL,
  local_uri       TEXT NOT NULL,
  remote_uri      TEXT NOT NULL,
  remote_target   TEXT NOT NULL,
  route_set       TEXT NOT NULL,
  flow            TEXT NOT NULL,
  content_type    TEXT NOT NULL,
  remote_cseq     INTEGER NOT NULL,
  local_cseq      INTEGER NOT NULL,
  expires_at      INTEGER NOT NULL,
  state           TEXT NOT NULL
);
CREATE TABLE presence_rules (
  presentity TEXT NOT NULL,
  watcher    TEXT NOT NULL,
  action     TEXT NOT NULL CHECK (action IN ('allow', 'block', 'polite-block', 'confirm')),
  PRIMARY KEY (presentity, watcher)
);
CREATE TABLE counters (
  name  TEXT PRIMARY KEY NOT NULL,
  value INTEGER NOT NULL
);
INSERT INTO counters (name, value) VALUES ('presence_rules', 0);
CREATE TRIGGER presence_rules_inserted AFTER INSERT ON presence_rules BEGIN
  UPDATE counters SET value = value + 1 WHERE name = 'presence_rules';
END;
CREATE TRIGGER presence_rules_updated AFTER UPDATE ON presence_rules BEGIN
  UPDATE counters SET value = value + 1 WHERE name = 'presence_rules';
END;
CREATE TRIGGER presence_rules_deleted AFTER DELETE ON presence_rules BEGIN
  UPDATE counters SET value = value + 1 WHERE name = 'presence_rules';
END;
)sql",
    // 4: bindings clustered on their key (WITHOUT ROWID) and without the expiry index, so a
    // REGISTER's upsert touches one b-tree instead of three. Expired bindings are removed
    // only when the server starts, after it has read every row anyway (a scan is no loss).
    R"sql(
CREATE TABLE bindings_v4 (
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
) WITHOUT ROWID;
INSERT INTO bindings_v4 SELECT aor, contact, call_id, cseq, expires_at, q, path, instance, received,
  updated_at FROM bindings;
DROP TABLE bindings;
ALTER TABLE bindings_v4 RENAME TO bindings;
)sql",
    // 5: a counter of changes to users, as for presence rules: the server keeps the users it
    // has looked up in memory and polls this number to know when to forget them.
    R"sql(
INSERT INTO counters (name, value) VALUES ('users', 0);
CREATE TRIGGER users_inserted AFTER INSERT ON users BEGIN
  UPDATE counters SET value = value + 1 WHERE name = 'users';
END;
CREATE TRIGGER users_updated AFTER UPDATE ON users BEGIN
  UPDATE counters SET value = value + 1 WHERE name = 'users';
END;
CREATE TRIGGER users_deleted AFTER DELETE ON users BEGIN
  UPDATE counters SET value = value + 1 WHERE name = 'users';
END;
)sql",
    // 6: bindings keyed by an id their writer chooses, increasing (BindingStore), with no
    // other index: a new binding is appended to the table's last page instead of a page of
    // its AOR, so a commit of many REGISTERs writes and later checkpoints a few pages, not
    // one page each. The bindings read at start-up are numbered in (aor, contact) order.
    R"sql(
CREATE TABLE bindings_v6 (
  id         INTEGER PRIMARY KEY,
  aor        TEXT NOT NULL,
  contact    TEXT NOT NULL,
  call_id    TEXT NOT NULL,
  cseq       INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  q          INTEGER NOT NULL,
  path       TEXT NOT NULL,
  instance   TEXT NOT NULL,
  received   TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);
INSERT INTO bindings_v6 (aor, contact, call_id, cseq, expires_at, q, path, instance, received, updated_at)
  SELECT aor, contact, call_id, cseq, expires_at, q, path, instance, received, updated_at FROM bindings
  ORDER BY aor, contact;
DROP TABLE bindings;
ALTER TABLE bindings_v6 RENAME TO bindings;
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
