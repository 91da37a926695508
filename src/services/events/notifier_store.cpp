#include <spdlog/spdlog.h>

#include "services/events/notifier.h"
#include "services/events/notifier_entry.h"

// The notifier's write-through to the store and its restart.
namespace herald::services::events {

void Notifier::persist(const Entry& e) {
  if (store_ == nullptr) return;
  const Subscription& s = e.s;
  store::SubscriptionRecord r;
  r.key = s.key;
  r.package = s.package;
  r.event_id = s.event_id;
  r.resource = s.resource;
  r.watcher = s.watcher;
  r.watcher_display = s.watcher_display;
  r.call_id = s.call_id;
  r.local_tag = s.local_tag;
  r.remote_tag = s.remote_tag;
  r.local_uri = s.local_uri;
  r.remote_uri = s.remote_uri;
  r.remote_target = s.remote_target;
  r.route_set = s.route_set;
  r.flow = s.flow;
  r.content_type = s.content_type;
  r.remote_cseq = s.remote_cseq;
  r.local_cseq = e.cseq_ceiling;
  r.expires_at = s.expires_at;
  r.state = std::string(to_string(s.state));
  if (auto status = store_->put_subscription(r); !status.ok()) {
    spdlog::error("call-id={} store: cannot save the subscription: {}", s.call_id, status.message());
  }
}

void Notifier::unpersist(const Entry& e) {
  if (store_ == nullptr) return;
  if (auto status = store_->remove_subscription(e.s.key); !status.ok() && !status.is_not_found()) {
    spdlog::error("call-id={} store: cannot remove the subscription: {}", e.s.call_id, status.message());
  }
}

void Notifier::start() {
  if (store_ == nullptr) return;
  auto loaded = store_->load_subscriptions();
  if (!loaded.ok()) {
    spdlog::error("store: cannot load subscriptions: {}", loaded.status().message());
    return;
  }
  const std::int64_t now = now_();
  std::vector<std::uint64_t> restored;
  for (store::SubscriptionRecord& r : loaded.value()) {
    if (owned_ && !owned_(r.resource)) continue;  // another shard's
    PackageSlot* slot = slot_named(r.package);
    const bool state_known = r.state == "active" || r.state == "pending";
    if (slot == nullptr || !state_known || r.key.empty() || by_key_.contains(r.key)) {
      spdlog::info("call-id={} stored {} subscription of {} to {} dropped: {}", r.call_id, r.package, r.watcher,
                   r.resource, slot == nullptr ? "package not served" : "unusable record");
      if (auto status = store_->remove_subscription(r.key); !status.ok() && !status.is_not_found()) {
        spdlog::error("call-id={} store: cannot remove the subscription: {}", r.call_id, status.message());
      }
      continue;
    }
    auto owned = std::make_unique<Entry>();
    Entry& e = *owned;
    e.id = next_id_++;
    e.slot = slot;
    Subscription& s = e.s;
    s.key = std::move(r.key);
    s.package = slot->name;
    s.event_id = std::move(r.event_id);
    s.resource = std::move(r.resource);
    s.watcher = std::move(r.watcher);
    s.watcher_display = std::move(r.watcher_display);
    s.call_id = std::move(r.call_id);
    s.local_tag = std::move(r.local_tag);
    s.remote_tag = std::move(r.remote_tag);
    s.local_uri = std::move(r.local_uri);
    s.remote_uri = std::move(r.remote_uri);
    s.remote_target = std::move(r.remote_target);
    s.route_set = std::move(r.route_set);
    s.flow = std::move(r.flow);
    s.content_type = std::move(r.content_type);
    s.remote_cseq = r.remote_cseq;
    // The ceiling may have been used up to one below it: the next NOTIFY takes the ceiling
    // itself, which reserves a new block first.
    s.local_cseq = r.local_cseq > 0 ? r.local_cseq - 1 : 0;
    e.cseq_ceiling = r.local_cseq;
    s.expires_at = r.expires_at;
    s.state = r.state == "active" ? State::kActive : State::kPending;
    entries_.emplace(e.id, std::move(owned));
    add_to_index(e);
    if (s.expires_at > now) arm_expiry(e);
    restored.push_back(e.id);
  }
  if (!restored.empty()) spdlog::info("{} stored subscriptions restored", restored.size());
  for (std::uint64_t entry_id : restored) {
    if (Entry* e = live_entry(entry_id)) e->slot->package->on_change(e->s, std::nullopt);
  }
  for (std::uint64_t entry_id : restored) {
    Entry* e = live_entry(entry_id);
    if (e != nullptr && e->s.expires_at <= now) end(*e, Reason::kTimeout, true);
  }
}

}  // namespace herald::services::events
