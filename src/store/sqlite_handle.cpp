#include "store/sqlite_handle.h"

#include <sqlite3.h>

#include <climits>

namespace herald::store::sqlite {

void DbCloser::operator()(sqlite3* db) const { sqlite3_close_v2(db); }
void StatementFinalizer::operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }

Status error_status(sqlite3* db, int rc, std::string_view file, std::string_view what) {
  int primary = rc & 0xff;
  StatusCode code = (primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT)
                        ? StatusCode::kCorruption
                        : StatusCode::kIoError;
  // sqlite3_errmsg describes the connection's most recent error, which is rc's unless rc
  // came from elsewhere (a bind); prefer it only when it matches.
  const char* detail =
      (db != nullptr && sqlite3_errcode(db) == rc) ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  std::string message;
  message.append(file).append(": ").append(what).append(": ").append(detail);
  if (code == StatusCode::kCorruption) message.append(" (not a SQLite database, or damaged)");
  return Status::error(code, std::move(message));
}

Status exec(sqlite3* db, std::string_view file, const char* sql) {
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return error_status(db, rc, file, sql);
  return Status{};
}

Status prepare(sqlite3* db, std::string_view file, std::string_view sql, StatementHandle& out) {
  if (sql.size() > static_cast<std::size_t>(INT_MAX)) {
    return Status::invalid_argument("SQL text too long");
  }
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
  out.reset(raw);
  if (rc != SQLITE_OK) return error_status(db, rc, file, "prepare");
  return Status{};
}

StatementUse::StatementUse(sqlite3_stmt* statement, std::string_view file)
    : statement_(statement), file_(file) {}

StatementUse::~StatementUse() {
  sqlite3_reset(statement_);
  sqlite3_clear_bindings(statement_);
}

StatementUse& StatementUse::bind(int index, std::string_view text) {
  if (text.size() > static_cast<std::size_t>(INT_MAX)) {
    if (bind_error_ == 0) bind_error_ = SQLITE_TOOBIG;
    return *this;
  }
  int rc = sqlite3_bind_text(statement_, index, text.data(), static_cast<int>(text.size()),
                             SQLITE_STATIC);
  if (rc != SQLITE_OK && bind_error_ == 0) bind_error_ = rc;
  return *this;
}

StatementUse& StatementUse::bind(int index, std::int64_t value) {
  int rc = sqlite3_bind_int64(statement_, index, value);
  if (rc != SQLITE_OK && bind_error_ == 0) bind_error_ = rc;
  return *this;
}

StatementUse& StatementUse::bind_blob(int index, std::string_view bytes) {
  if (bytes.size() > static_cast<std::size_t>(INT_MAX)) {
    if (bind_error_ == 0) bind_error_ = SQLITE_TOOBIG;
    return *this;
  }
  // A null pointer would bind NULL; an empty view may have one.
  int rc = bytes.empty() ? sqlite3_bind_zeroblob(statement_, index, 0)
                         : sqlite3_bind_blob(statement_, index, bytes.data(),
                                             static_cast<int>(bytes.size()), SQLITE_STATIC);
  if (rc != SQLITE_OK && bind_error_ == 0) bind_error_ = rc;
  return *this;
}

Result<bool> StatementUse::step() {
  sqlite3* db = sqlite3_db_handle(statement_);
  if (bind_error_ != 0) return error_status(db, bind_error_, file_, "bind");
  int rc = sqlite3_step(statement_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return error_status(db, rc, file_, sqlite3_sql(statement_));
}

Result<std::size_t> StatementUse::run() {
  Result<bool> row = step();
  while (row.ok() && *row) row = step();
  if (!row.ok()) return row.status();
  return static_cast<std::size_t>(sqlite3_changes(sqlite3_db_handle(statement_)));
}

std::string StatementUse::column_text(int index) const {
  const unsigned char* text = sqlite3_column_text(statement_, index);
  int size = sqlite3_column_bytes(statement_, index);
  if (text == nullptr || size <= 0) return {};
  return std::string(reinterpret_cast<const char*>(text), static_cast<std::size_t>(size));
}

std::int64_t StatementUse::column_int(int index) const {
  return sqlite3_column_int64(statement_, index);
}

std::string StatementUse::column_blob(int index) const {
  const void* bytes = sqlite3_column_blob(statement_, index);  // before _bytes, as documented
  int size = sqlite3_column_bytes(statement_, index);
  if (bytes == nullptr || size <= 0) return {};
  return std::string(static_cast<const char*>(bytes), static_cast<std::size_t>(size));
}

Transaction::~Transaction() {
  if (!open_) return;
  if (savepoint_) {
    sqlite3_exec(db_, "ROLLBACK TO herald_step; RELEASE herald_step", nullptr, nullptr, nullptr);
  } else {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
}

Status Transaction::begin() {
  savepoint_ = sqlite3_get_autocommit(db_) == 0;
  Status status = exec(db_, file_, savepoint_ ? "SAVEPOINT herald_step" : "BEGIN IMMEDIATE");
  open_ = status.ok();
  return status;
}

Status Transaction::commit() {
  Status status = exec(db_, file_, savepoint_ ? "RELEASE herald_step" : "COMMIT");
  if (status.ok()) open_ = false;
  return status;
}

}  // namespace herald::store::sqlite
