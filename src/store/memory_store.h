#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "store/store.h"

namespace herald::store {

// The Store interfaces held in memory and lost with the process: for unit tests of the
// services and for running without persistence. Same contracts and errors as SqliteStore.
// One thread at a time, like every Store.
class MemoryStore final : public Store {
 public:
  Status add_user(const User& user) override;
  Status update_user(const User& user) override;
  Status remove_user(std::string_view aor) override;
  Result<User> find_user(std::string_view aor) const override;
  Result<std::vector<User>> list_users() const override;
  Result<std::int64_t> users_generation() const override;

  Status put_binding(const Binding& binding) override;
  Status remove_binding(std::int64_t id) override;
  Result<std::size_t> remove_bindings(std::string_view aor) override;
  Result<std::vector<Binding>> load_bindings() const override;
  Result<std::size_t> remove_expired(std::int64_t now) override;

  Result<std::int64_t> store_message(const StoredMessage& message) override;
  Result<std::vector<StoredMessage>> pending_messages(std::string_view recipient) const override;
  Result<std::size_t> count_messages(std::string_view recipient) const override;
  Result<std::vector<std::string>> message_recipients() const override;
  Status remove_message(std::int64_t id) override;
  Status set_message_attempts(std::int64_t id, std::uint32_t attempts) override;
  Result<std::size_t> remove_expired_messages(std::int64_t now) override;

  Status put_publication(const Publication& publication, std::string_view replaces = {}) override;
  Status remove_publication(std::string_view etag) override;
  Result<std::vector<Publication>> load_publications() const override;
  Result<std::size_t> remove_expired_publications(std::int64_t now) override;

  Status put_subscription(const SubscriptionRecord& subscription) override;
  Status remove_subscription(std::string_view key) override;
  Result<std::vector<SubscriptionRecord>> load_subscriptions() const override;

  Status set_presence_rule(const PresenceRule& rule) override;
  Status remove_presence_rule(std::string_view presentity, std::string_view watcher) override;
  Result<std::vector<PresenceRule>> load_presence_rules() const override;
  Result<std::int64_t> presence_rules_generation() const override;

 private:
  std::map<std::string, User, std::less<>> users_;                          // by aor
  std::map<std::int64_t, Binding> bindings_;                                // by id
  std::map<std::pair<std::string, std::int64_t>, StoredMessage> messages_;  // by (recipient, id)
  std::map<std::int64_t, std::string> recipient_of_;  // by id: the key into messages_
  std::int64_t last_message_id_ = 0;                  // never decreases, so ids are never reused
  std::map<std::string, Publication, std::less<>> publications_;          // by etag
  std::map<std::string, SubscriptionRecord, std::less<>> subscriptions_;  // by key
  // By (presentity, watcher); the generation counts each set or removal of a rule.
  std::map<std::pair<std::string, std::string>, PresenceRule> presence_rules_;
  std::int64_t presence_rules_generation_ = 0;
  std::int64_t users_generation_ = 0;
};

}  // namespace herald::store
