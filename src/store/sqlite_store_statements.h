#pragma once

// Internal to the SqliteStore sources (sqlite_store*.cpp): the cached prepared statements,
// and how a list of URIs is kept in one column.

#include <string>
#include <string_view>
#include <vector>

#include "store/sqlite_handle.h"
#include "store/sqlite_store.h"

namespace herald::store {

struct SqliteStore::Statements {
  sqlite::StatementHandle add_user;
  sqlite::StatementHandle update_user;
  sqlite::StatementHandle remove_user;
  sqlite::StatementHandle find_user;
  sqlite::StatementHandle list_users;
  sqlite::StatementHandle put_binding;
  sqlite::StatementHandle remove_binding;
  sqlite::StatementHandle remove_bindings;
  sqlite::StatementHandle load_bindings;
  sqlite::StatementHandle remove_expired;
  sqlite::StatementHandle store_message;
  sqlite::StatementHandle pending_messages;
  sqlite::StatementHandle count_messages;
  sqlite::StatementHandle message_recipients;
  sqlite::StatementHandle remove_message;
  sqlite::StatementHandle set_message_attempts;
  sqlite::StatementHandle remove_expired_messages;
  sqlite::StatementHandle put_publication;
  sqlite::StatementHandle remove_publication;
  sqlite::StatementHandle load_publications;
  sqlite::StatementHandle remove_expired_publications;
  sqlite::StatementHandle put_subscription;
  sqlite::StatementHandle remove_subscription;
  sqlite::StatementHandle load_subscriptions;
  sqlite::StatementHandle set_presence_rule;
  sqlite::StatementHandle remove_presence_rule;
  sqlite::StatementHandle load_presence_rules;
  sqlite::StatementHandle presence_rules_generation;
  sqlite::StatementHandle users_generation;
  sqlite::StatementHandle begin_batch;   // a batch's transaction, prepared once: a server opens
  sqlite::StatementHandle commit_batch;  // and commits one per loop turn
  sqlite::StatementHandle begin_snapshot;  // a read snapshot's transaction, as a batch's

  // Each statement and its SQL, in the order prepare_all() prepares them.
  struct Sql {
    sqlite::StatementHandle Statements::*handle;
    const char* text;
  };
  static const Sql sql_table[];

  Status prepare_all(sqlite3* db, std::string_view file);
};

namespace sqlite {

// The status of a write that must change a row: the error in `changed` (a run()'s result),
// or, when no row changed, kNotFound with the text not_found() returns (only then called).
template <typename NotFound>
Status require_changed(const Result<std::size_t>& changed, NotFound not_found) {
  if (!changed.ok()) return changed.status();
  if (*changed == 0) return Status::not_found(not_found());
  return Status{};
}

// A binding's Path or a subscription's route set as one column: the URIs joined by '\n'
// (validation has made sure none is empty or holds one).
inline std::string join_path(const std::vector<std::string>& path) {
  std::string joined;
  for (const std::string& uri : path) {
    if (!joined.empty()) joined.push_back('\n');
    joined.append(uri);
  }
  return joined;
}

inline std::vector<std::string> split_path(std::string_view joined) {
  std::vector<std::string> path;
  while (!joined.empty()) {
    std::size_t end = joined.find('\n');
    path.emplace_back(joined.substr(0, end));
    joined = end == std::string_view::npos ? std::string_view{} : joined.substr(end + 1);
  }
  return path;
}

}  // namespace sqlite
}  // namespace herald::store
