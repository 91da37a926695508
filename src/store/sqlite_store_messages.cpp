#include "store/sqlite_store.h"

#include <sqlite3.h>

#include "store/sqlite_store_statements.h"

namespace herald::store {

using sqlite::StatementUse;

namespace {

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

}  // namespace

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
  return sqlite::require_changed(use.run(), [&] { return no_message(id); });
}

Status SqliteStore::set_message_attempts(std::int64_t id, std::uint32_t attempts) {
  if (Status s = before_write(); !s.ok()) return s;
  StatementUse use(statements_->set_message_attempts.get(), file_);
  use.bind(1, id).bind(2, std::int64_t{attempts});
  return sqlite::require_changed(use.run(), [&] { return no_message(id); });
}

Result<std::size_t> SqliteStore::remove_expired_messages(std::int64_t now) {
  if (Status s = before_write(); !s.ok()) return s;
  StatementUse use(statements_->remove_expired_messages.get(), file_);
  use.bind(1, now);
  return use.run();
}

}  // namespace herald::store
