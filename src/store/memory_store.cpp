#include "store/memory_store.h"

#include <algorithm>
#include <iterator>
#include <limits>
#include <tuple>

namespace herald::store {

Status MemoryStore::add_user(const User& user) {
  if (user.aor.empty()) return Status::invalid_argument("user has an empty AOR");
  if (!users_.emplace(user.aor, user).second) {
    return Status::already_exists("user " + user.aor + " already exists");
  }
  ++users_generation_;
  return Status{};
}

Status MemoryStore::update_user(const User& user) {
  auto it = users_.find(user.aor);
  if (it == users_.end()) return Status::not_found("no user " + user.aor);
  it->second = user;
  ++users_generation_;
  return Status{};
}

Status MemoryStore::remove_user(std::string_view aor) {
  auto it = users_.find(aor);
  if (it == users_.end()) return Status::not_found("no user " + std::string(aor));
  users_.erase(it);
  ++users_generation_;
  return Status{};
}

Result<User> MemoryStore::find_user(std::string_view aor) const {
  auto it = users_.find(aor);
  if (it == users_.end()) return Status::not_found("no user " + std::string(aor));
  return it->second;
}

Result<std::vector<User>> MemoryStore::list_users() const {
  std::vector<User> users;
  users.reserve(users_.size());
  for (const auto& [aor, user] : users_) users.push_back(user);
  return users;
}

Status MemoryStore::put_binding(const Binding& binding) {
  if (Status valid = validate_binding(binding); !valid.ok()) return valid;
  bindings_.insert_or_assign(binding.id, binding);
  return Status{};
}

Status MemoryStore::remove_binding(std::int64_t id) {
  if (bindings_.erase(id) == 0) return Status::not_found("no binding with id " + std::to_string(id));
  return Status{};
}

Result<std::size_t> MemoryStore::remove_bindings(std::string_view aor) {
  return static_cast<std::size_t>(
      std::erase_if(bindings_, [aor](const auto& entry) { return entry.second.aor == aor; }));
}

Result<std::vector<Binding>> MemoryStore::load_bindings() const {
  std::vector<Binding> bindings;
  bindings.reserve(bindings_.size());
  for (const auto& [key, binding] : bindings_) bindings.push_back(binding);
  return bindings;
}

Result<std::size_t> MemoryStore::remove_expired(std::int64_t now) {
  return static_cast<std::size_t>(
      std::erase_if(bindings_, [now](const auto& entry) { return entry.second.expires_at <= now; }));
}

namespace {

std::string no_message(std::int64_t id) { return "no stored message " + std::to_string(id); }

// The smallest and largest (recipient, id) keys a message of recipient can have.
std::pair<std::string, std::int64_t> first_key(std::string_view recipient) {
  return {std::string(recipient), std::numeric_limits<std::int64_t>::min()};
}
std::pair<std::string, std::int64_t> last_key(std::string_view recipient) {
  return {std::string(recipient), std::numeric_limits<std::int64_t>::max()};
}

}  // namespace

Result<std::int64_t> MemoryStore::store_message(const StoredMessage& message) {
  if (message.recipient.empty()) return Status::invalid_argument("message has an empty recipient");
  std::int64_t id = ++last_message_id_;
  StoredMessage& stored = messages_[{message.recipient, id}];
  stored = message;
  stored.id = id;
  recipient_of_.emplace(id, message.recipient);
  return id;
}

Result<std::vector<StoredMessage>> MemoryStore::pending_messages(std::string_view recipient) const {
  std::vector<StoredMessage> messages;
  auto last = messages_.upper_bound(last_key(recipient));
  for (auto it = messages_.lower_bound(first_key(recipient)); it != last; ++it) {
    messages.push_back(it->second);
  }
  return messages;
}

Result<std::size_t> MemoryStore::count_messages(std::string_view recipient) const {
  auto first = messages_.lower_bound(first_key(recipient));
  auto last = messages_.upper_bound(last_key(recipient));
  return static_cast<std::size_t>(std::distance(first, last));
}

Result<std::vector<std::string>> MemoryStore::message_recipients() const {
  std::vector<std::string> recipients;
  for (auto it = messages_.begin(); it != messages_.end();
       it = messages_.upper_bound(last_key(it->first.first))) {
    recipients.push_back(it->first.first);
  }
  return recipients;
}

Status MemoryStore::remove_message(std::int64_t id) {
  auto it = recipient_of_.find(id);
  if (it == recipient_of_.end()) return Status::not_found(no_message(id));
  messages_.erase({it->second, id});
  recipient_of_.erase(it);
  return Status{};
}

Status MemoryStore::set_message_attempts(std::int64_t id, std::uint32_t attempts) {
  auto it = recipient_of_.find(id);
  if (it == recipient_of_.end()) return Status::not_found(no_message(id));
  messages_.at({it->second, id}).attempts = attempts;
  return Status{};
}

Result<std::size_t> MemoryStore::remove_expired_messages(std::int64_t now) {
  std::size_t removed = 0;
  for (auto it = messages_.begin(); it != messages_.end();) {
    if (it->second.expires_at > now) {
      ++it;
      continue;
    }
    recipient_of_.erase(it->first.second);
    it = messages_.erase(it);
    ++removed;
  }
  return removed;
}

Status MemoryStore::put_publication(const Publication& publication, std::string_view replaces) {
  if (Status valid = validate_publication(publication); !valid.ok()) return valid;
  if (!replaces.empty() && replaces != publication.etag) {
    auto old = publications_.find(replaces);
    if (old != publications_.end()) publications_.erase(old);
  }
  publications_.insert_or_assign(publication.etag, publication);
  return Status{};
}

Status MemoryStore::remove_publication(std::string_view etag) {
  auto it = publications_.find(etag);
  if (it == publications_.end()) return Status::not_found("no publication " + std::string(etag));
  publications_.erase(it);
  return Status{};
}

Result<std::vector<Publication>> MemoryStore::load_publications() const {
  std::vector<Publication> publications;
  publications.reserve(publications_.size());
  for (const auto& [etag, publication] : publications_) publications.push_back(publication);
  // Stable: publications of equal (presentity, sequence) stay in etag order, as in SQLite.
  std::stable_sort(publications.begin(), publications.end(),
                   [](const Publication& a, const Publication& b) {
                     return std::tie(a.presentity, a.sequence) < std::tie(b.presentity, b.sequence);
                   });
  return publications;
}

Result<std::size_t> MemoryStore::remove_expired_publications(std::int64_t now) {
  return static_cast<std::size_t>(std::erase_if(
      publications_, [now](const auto& entry) { return entry.second.expires_at <= now; }));
}

Status MemoryStore::put_subscription(const SubscriptionRecord& subscription) {
  if (Status valid = validate_subscription(subscription); !valid.ok()) return valid;
  subscriptions_.insert_or_assign(subscription.key, subscription);
  return Status{};
}

Status MemoryStore::remove_subscription(std::string_view key) {
  auto it = subscriptions_.find(key);
  if (it == subscriptions_.end()) return Status::not_found("no subscription " + std::string(key));
  subscriptions_.erase(it);
  return Status{};
}

Result<std::vector<SubscriptionRecord>> MemoryStore::load_subscriptions() const {
  std::vector<SubscriptionRecord> subscriptions;
  subscriptions.reserve(subscriptions_.size());
  for (const auto& [key, subscription] : subscriptions_) subscriptions.push_back(subscription);
  return subscriptions;
}

Status MemoryStore::set_presence_rule(const PresenceRule& rule) {
  if (Status valid = validate_presence_rule(rule); !valid.ok()) return valid;
  presence_rules_.insert_or_assign({rule.presentity, rule.watcher}, rule);
  ++presence_rules_generation_;
  return Status{};
}

Status MemoryStore::remove_presence_rule(std::string_view presentity, std::string_view watcher) {
  if (presence_rules_.erase({std::string(presentity), std::string(watcher)}) == 0) {
    return Status::not_found("no presence rule of " + std::string(presentity) + " for " +
                             std::string(watcher));
  }
  ++presence_rules_generation_;
  return Status{};
}

Result<std::vector<PresenceRule>> MemoryStore::load_presence_rules() const {
  std::vector<PresenceRule> rules;
  rules.reserve(presence_rules_.size());
  for (const auto& [key, rule] : presence_rules_) rules.push_back(rule);
  return rules;
}

Result<std::int64_t> MemoryStore::users_generation() const { return users_generation_; }

Result<std::int64_t> MemoryStore::presence_rules_generation() const {
  return presence_rules_generation_;
}

}  // namespace herald::store
