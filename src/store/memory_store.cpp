#include "store/memory_store.h"

#include <iterator>

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

}  // namespace herald::store
