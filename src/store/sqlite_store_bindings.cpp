#include "store/sqlite_store.h"

#include "store/sqlite_store_statements.h"

namespace herald::store {

using sqlite::StatementUse;

Status SqliteStore::put_binding(const Binding& binding) {
  if (Status s = before_write(); !s.ok()) return s;
  if (Status valid = validate_binding(binding); !valid.ok()) return valid;
  std::string path = sqlite::join_path(binding.path);  // outlives use: bound without copying
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
  return sqlite::require_changed(use.run(),
                                 [&] { return "no binding with id " + std::to_string(id); });
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
    b.path = sqlite::split_path(use.column_text(6));
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

}  // namespace herald::store
