// The notifier's limits: how many subscriptions one resource, watcher and source may have, and
// how many NOTIFYs a destination that never answered gets (notifier.h, NotifierConfig).

#include <spdlog/spdlog.h>

#include "services/events/notifier.h"
#include "services/events/notifier_entry.h"

namespace herald::services::events {
namespace {

// Destinations tracked at most; beyond, new ones go untracked.
constexpr std::size_t kMaxDestinations = 100'000;

}  // namespace

bool Notifier::trusted(const boost::asio::ip::address& address) const {
  return sip::transport::contains_any(config_.trusted, address);
}

std::optional<std::string_view> Notifier::over_limit(const Subscription& s, const PackageSlot& slot,
                                                     const sip::transport::Source& source) const {
  if (!trusted(source.remote_address)) {
    const auto from = per_source_.find(sip::transport::source_key(source.remote_address));
    if (from != per_source_.end() && from->second >= config_.max_per_source) {
      return "Too many subscriptions from this address";
    }
  }
  if (const auto of = per_watcher_.find(s.watcher); of != per_watcher_.end() && of->second >= config_.max_per_watcher) {
    return "Too many subscriptions from this watcher";
  }
  if (const auto to = slot.resources.find(s.resource); to != slot.resources.end()) {
    if (to->second.live >= config_.max_per_resource) return "Too many subscriptions to this resource";
    if (s.state == State::kPending && to->second.pending >= config_.max_pending_per_resource) {
      return "Too many pending subscriptions to this resource";
    }
  }
  return std::nullopt;
}

void Notifier::count(Entry& e, int delta) {
  if (delta > 0 ? e.counted : !e.counted) return;
  e.counted = delta > 0;
  auto add = [delta](auto& map, const auto& key) {
    if (delta > 0) {
      ++map[key];
      return;
    }
    const auto found = map.find(key);
    if (found != map.end() && --found->second == 0) map.erase(found);
  };
  add(per_watcher_, e.s.watcher);
  if (e.source) add(per_source_, *e.source);
}

Notifier::Admission Notifier::admit_notify(Entry& e, const sip::transport::Destination& to) {
  e.dest.reset();
  if (trusted(to.address)) return Admission::kGo;
  const sip::transport::SourceKey key = sip::transport::source_key(to.address);
  const std::int64_t now = now_();
  auto found = destinations_.find(key);
  if (found == destinations_.end()) {
    if (destinations_.size() >= sweep_at_ && (sweep_at_ < kMaxDestinations || now > swept_)) {
      swept_ = now;
      std::erase_if(destinations_, [now](const auto& entry) {
        const Recipient& d = entry.second;
        return d.in_flight == 0 && d.waiting.empty() && now >= d.unresponsive_until;
      });
      // Amortized: no sweep per insert, and at the limit one a second at most.
      sweep_at_ = std::min(kMaxDestinations, std::max(kSweepAt, 2 * destinations_.size()));
    }
    if (destinations_.size() >= kMaxDestinations) return Admission::kGo;  // untracked: memory stays bounded
    found = destinations_.emplace(key, Recipient{}).first;
  }
  Recipient& d = found->second;
  if (!d.answered && now < d.unresponsive_until) return Admission::kUnresponsive;
  if (!d.answered && d.in_flight >= config_.max_unanswered_per_destination) {
    if (e.id == 0) return Admission::kUnresponsive;  // a fetch's or a rejection's NOTIFY cannot wait
    d.waiting.push_back(e.id);
    e.held = true;
    ++counters_.notifies_held;
    return Admission::kHeld;
  }
  ++d.in_flight;
  e.dest = key;
  return Admission::kGo;
}

void Notifier::forget_in_flight(const sip::transport::SourceKey& key) {
  const auto found = destinations_.find(key);
  if (found != destinations_.end() && found->second.in_flight > 0) --found->second.in_flight;
}

void Notifier::notify_ended(const sip::transport::SourceKey& key, Outcome outcome) {
  auto found = destinations_.find(key);
  if (found == destinations_.end()) return;
  Recipient& d = found->second;
  if (d.in_flight > 0) --d.in_flight;
  const std::int64_t now = now_();
  if (outcome == Outcome::kAnswered) {
    d.answered = true;
  } else if (!d.answered) {
    d.unresponsive_until = now + config_.unresponsive_for.count();
  }
  std::vector<std::uint64_t> waiting;
  if (d.answered || now < d.unresponsive_until) waiting.swap(d.waiting);
  const bool go = d.answered;
  if (d.in_flight == 0 && d.waiting.empty() && now >= d.unresponsive_until) destinations_.erase(found);
  // What waited goes now (the destination answers), or ends unsent (it does not).
  for (std::uint64_t entry_id : waiting) {
    auto entry = entries_.find(entry_id);
    if (entry == entries_.end() || !entry->second->held) continue;
    Entry& e = *entry->second;
    e.held = false;
    e.in_flight = false;
    if (e.ended) {
      if (!go || !send_notify(e)) entries_.erase(entry_id);
      continue;
    }
    if (go) {
      send_current(e);
    } else {
      ++counters_.unresponsive_ended;
      spdlog::info("call-id={} {} subscription of {} to {} ended unsent: its NOTIFYs' destination does not answer",
                   e.s.call_id, e.s.package, e.s.watcher, e.s.resource);
      end(e, Reason::kGiveup, false);
    }
  }
}

}  // namespace herald::services::events
