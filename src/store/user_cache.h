#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "store/store.h"

namespace herald::store {

// The users a server has looked up, kept in memory. Every REGISTER, MESSAGE and SUBSCRIBE
// asks whether its AOR is a user, and every digest check wants the HA1s: far more often than
// users change, and each lookup in SQLite is a query on the event loop.
//
// The cache forgets everything when the store's users_generation() moves. poll() reads it
// (the shard calls it once a second), so a user added, changed or removed by `herald user`
// is seen within that interval. AORs that are not users are kept too; a flood of them is
// bounded by max_entries: past it, the cache starts over.
//
// Threading: one thread, like the store it reads.
class UserCache {
 public:
  static constexpr std::size_t kDefaultMaxEntries = 100000;

  explicit UserCache(const UserStore& store, std::size_t max_entries = kDefaultMaxEntries);
  UserCache(const UserCache&) = delete;
  UserCache& operator=(const UserCache&) = delete;

  // The user with this AOR, or nullptr: not a user, or the store failed (logged, not kept).
  // The pointer is valid until the next call.
  const User* find(std::string_view aor);
  // Reads the generation: when it moved, or cannot be read, forgets everything.
  void poll();

  std::size_t size() const { return entries_.size(); }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  const UserStore& store_;
  std::size_t max_entries_;
  std::optional<std::int64_t> generation_;  // read before the entries it covers
  std::unordered_map<std::string, std::optional<User>, Hash, std::equal_to<>> entries_;  // nullopt: no user
};

}  // namespace herald::store
