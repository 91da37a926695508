#include "store/store.h"

#include "store/ha1.h"
#include "store/memory_store.h"
#include "store/sqlite_store.h"
#include "store/write_behind_store.h"

namespace herald::store {

Status UserStore::set_password(std::string_view aor, std::string_view password) {
  Result<User> existing = find_user(aor);
  if (!existing.ok()) return existing.status();
  Result<User> updated = make_user(aor, existing->realm, password);
  if (!updated.ok()) return updated.status();
  return update_user(*updated);
}

Status validate_binding(const Binding& binding) {
  if (binding.aor.empty()) return Status::invalid_argument("binding has an empty AOR");
  if (binding.id <= 0) {
    return Status::invalid_argument("binding of " + binding.aor + " has id " + std::to_string(binding.id) +
                                    ", not a positive one");
  }
  if (binding.contact.empty()) {
    return Status::invalid_argument("binding of " + binding.aor + " has an empty contact");
  }
  for (const std::string& uri : binding.path) {
    if (uri.empty() || uri.find('\n') != std::string::npos) {
      return Status::invalid_argument("binding of " + binding.aor +
                                      " has an empty Path URI or one holding a line feed");
    }
  }
  return Status{};
}

Status validate_publication(const Publication& publication) {
  if (publication.etag.empty()) return Status::invalid_argument("publication has an empty etag");
  if (publication.presentity.empty()) {
    return Status::invalid_argument("publication " + publication.etag + " has an empty presentity");
  }
  return Status{};
}

Status validate_subscription(const SubscriptionRecord& subscription) {
  if (subscription.key.empty()) return Status::invalid_argument("subscription has an empty key");
  for (const std::string& uri : subscription.route_set) {
    if (uri.empty() || uri.find('\n') != std::string::npos) {
      return Status::invalid_argument("subscription " + subscription.key +
                                      " has an empty route URI or one holding a line feed");
    }
  }
  return Status{};
}

bool is_presence_action(std::string_view action) {
  return action == "allow" || action == "block" || action == "polite-block" || action == "confirm";
}

Status validate_presence_rule(const PresenceRule& rule) {
  if (rule.presentity.empty() || rule.watcher.empty()) {
    return Status::invalid_argument("presence rule has an empty presentity or watcher");
  }
  if (!is_presence_action(rule.action)) {
    return Status::invalid_argument("presence rule of " + rule.presentity + " for " + rule.watcher +
                                    " has the action '" + rule.action +
                                    "' (known: allow, block, polite-block, confirm)");
  }
  return Status{};
}

Result<std::unique_ptr<Store>> open_store(const StoreConfig& config) {
  if (config.backend == "memory") return std::unique_ptr<Store>(std::make_unique<MemoryStore>());
  if (config.backend == "sqlite") {
    Result<std::unique_ptr<SqliteStore>> sqlite =
        SqliteStore::open(config.data_dir, config.busy_timeout_ms);
    if (!sqlite.ok()) return sqlite.status();
    if (!config.writer_thread) return std::unique_ptr<Store>(std::move(sqlite).value());
    Result<std::unique_ptr<SqliteStore>> reader = SqliteStore::open(config.data_dir, config.busy_timeout_ms);
    if (!reader.ok()) return reader.status();
    return std::unique_ptr<Store>(
        std::make_unique<WriteBehindStore>(std::move(sqlite).value(), std::move(reader).value()));
  }
  return Status::error(StatusCode::kUnsupported,
                       "unknown store backend '" + config.backend + "' (known: sqlite, memory)");
}

}  // namespace herald::store
