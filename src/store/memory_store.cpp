#include "store/memory_store.h"

#include <iterator>
#include <limits>

namespace herald::store {

Status MemoryStore::add_user(const User& user) {
  if (user.aor.empty()) return Status::invalid_argument("user has an empty AOR");
  if (!users_.emplace(user.aor, user).second) {
    return Status::already_exists("user " + user.aor + " already exists");
  }
  return Status{};
}

Status MemoryStore::update_user(const User& user) {
  auto it = users_.find(user.aor);
  if (it == users_.end()) return Status::not_found("no user " + user.aor);
  it->second = user;
  return Status{};
}

Status MemoryStore::remove_user(std::string_view aor) {
  auto it = users_.find(aor);
  if (it == users_.end()) return Status::not_found("no user " + std::string(aor));
  users_.erase(it);
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
  bindings_.insert_or_assign({binding.aor, binding.contact}, binding);
  return Status{};
}

Status MemoryStore::remove_binding(std::string_view aor, std::string_view contact) {
  if (bindings_.erase({std::string(aor), std::string(contact)}) == 0) {
    return Status::not_found("no binding of " + std::string(aor) + " to " + std::string(contact));
  }
  return Status{};
}

Result<std::size_t> MemoryStore::remove_bindings(std::string_view aor) {
  auto first = bindings_.lower_bound({std::string(aor), std::string()});
  auto last = first;
  while (last != bindings_.end() && last->first.first == aor) ++last;
  auto count = static_cast<std::size_t>(std::distance(first, last));
  bindings_.erase(first, last);
  return count;
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

}  // namespace herald::store
