#include "store/sqlite_store.h"

#include "store/sqlite_store_statements.h"

namespace herald::store {

using sqlite::StatementUse;

namespace {

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
  r.route_set = sqlite::split_path(row.column_text(12));
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

}  // namespace

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
  return sqlite::require_changed(use.run(), [&] { return "no publication " + std::string(etag); });
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
  // Outlives use: bound without copying.
  std::string route_set = sqlite::join_path(subscription.route_set);
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
  return sqlite::require_changed(use.run(), [&] { return "no subscription " + std::string(key); });
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
  return sqlite::require_changed(use.run(), [&] {
    return "no presence rule of " + std::string(presentity) + " for " + std::string(watcher);
  });
}

Result<std::vector<PresenceRule>> SqliteStore::load_presence_rules() const {
  StatementUse use(statements_->load_presence_rules.get(), file_);
  return read_all<PresenceRule>(use, [](const StatementUse& row) {
    return PresenceRule{row.column_text(0), row.column_text(1), row.column_text(2)};
  });
}

}  // namespace herald::store
