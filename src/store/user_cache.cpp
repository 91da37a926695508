#include "store/user_cache.h"

#include <spdlog/spdlog.h>

namespace herald::store {

UserCache::UserCache(const UserStore& store, std::size_t max_entries)
    : store_(store), max_entries_(max_entries == 0 ? 1 : max_entries) {
  poll();
}

const User* UserCache::find(std::string_view aor) {
  if (auto it = entries_.find(aor); it != entries_.end()) return it->second ? &*it->second : nullptr;
  Result<User> user = store_.find_user(aor);
  if (!user.ok() && !user.status().is_not_found()) {
    spdlog::warn("store: cannot look up user {}: {}", aor, user.status().message());
    return nullptr;
  }
  if (entries_.size() >= max_entries_) entries_.clear();
  std::optional<User> entry;
  if (user.ok()) entry = std::move(user).value();
  auto [it, inserted] = entries_.emplace(std::string(aor), std::move(entry));
  return it->second ? &*it->second : nullptr;
}

void UserCache::poll() {
  Result<std::int64_t> generation = store_.users_generation();
  if (!generation.ok()) {
    spdlog::warn("store: cannot read the users generation: {}", generation.status().message());
    entries_.clear();
    generation_.reset();
    return;
  }
  if (generation_ == generation.value()) return;
  entries_.clear();
  generation_ = generation.value();
}

}  // namespace herald::store
