#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "store/status.h"

struct sqlite3;
struct sqlite3_stmt;

// Internal to the SQLite backend: RAII owners for the C handles and the few helpers every
// statement needs. Nothing here throws; SQLite errors become Status values.
namespace herald::store::sqlite {

struct DbCloser {
  void operator()(sqlite3* db) const;  // sqlite3_close_v2
};
struct StatementFinalizer {
  void operator()(sqlite3_stmt* statement) const;  // sqlite3_finalize
};
using DbHandle = std::unique_ptr<sqlite3, DbCloser>;
using StatementHandle = std::unique_ptr<sqlite3_stmt, StatementFinalizer>;

// Turns SQLite result code rc on db into a Status naming the file and the operation:
// "<file>: <what>: <SQLite's message>". kCorruption for SQLITE_NOTADB/SQLITE_CORRUPT.
Status error_status(sqlite3* db, int rc, std::string_view file, std::string_view what);

// Runs SQL text that returns no rows we need (PRAGMAs, DDL, BEGIN/COMMIT).
Status exec(sqlite3* db, std::string_view file, const char* sql);

// Prepares sql for repeated use on db (SQLITE_PREPARE_PERSISTENT).
Status prepare(sqlite3* db, std::string_view file, std::string_view sql, StatementHandle& out);

// One use of a cached prepared statement: binds parameters, steps, reads columns, and on
// destruction resets the statement and clears its bindings, ready for the next use.
// Text and blobs are bound without copying: bound strings must outlive this object.
class StatementUse {
 public:
  StatementUse(sqlite3_stmt* statement, std::string_view file);
  ~StatementUse();
  StatementUse(const StatementUse&) = delete;
  StatementUse& operator=(const StatementUse&) = delete;

  // Parameters are numbered from 1, as in SQL text.
  StatementUse& bind(int index, std::string_view text);
  StatementUse& bind(int index, std::int64_t value);
  // Binds the bytes as a BLOB (never NULL, also when empty): they come back byte for byte,
  // NULs and invalid UTF-8 included.
  StatementUse& bind_blob(int index, std::string_view bytes);

  // Steps once: Result true for a row, false when done. A bind error surfaces here.
  Result<bool> step();
  // Steps to completion of a statement without rows; returns sqlite3_changes().
  Result<std::size_t> run();

  // Columns are numbered from 0. Valid after step() returned true.
  std::string column_text(int index) const;
  std::int64_t column_int(int index) const;
  std::string column_blob(int index) const;

 private:
  sqlite3_stmt* statement_;
  std::string_view file_;
  int bind_error_ = 0;  // first failed sqlite3_bind_* code, reported by step()
};

// BEGIN IMMEDIATE ... COMMIT; rolls back on destruction unless commit() succeeded. Inside a
// transaction already open on the connection (a batch), a SAVEPOINT instead, so that the
// steps still succeed or fail together.
class Transaction {
 public:
  Transaction(sqlite3* db, std::string_view file) : db_(db), file_(file) {}
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  Status begin();
  Status commit();

 private:
  sqlite3* db_;
  std::string_view file_;
  bool open_ = false;
  bool savepoint_ = false;
};

}  // namespace herald::store::sqlite
