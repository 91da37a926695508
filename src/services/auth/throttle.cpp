#include "services/auth/throttle.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "sip/transport/address_text.h"

namespace herald::services::auth {
namespace {

std::uint32_t whole_seconds(std::chrono::steady_clock::duration d) {
  const auto s = std::chrono::ceil<std::chrono::seconds>(d).count();
  return static_cast<std::uint32_t>(std::max<std::int64_t>(s, 1));
}

}  // namespace

Throttle::Throttle(ThrottleConfig config, Clock clock) : config_(std::move(config)), clock_(std::move(clock)) {}

std::optional<std::uint32_t> Throttle::remaining(const Record& r, TimePoint now) {
  if (now >= r.blocked_until) return std::nullopt;
  return whole_seconds(r.blocked_until - now);
}

bool Throttle::count(Record& r, std::uint32_t allowance, TimePoint now) {
  // Quiet for a whole window after its back-off ended: forgotten.
  if (r.failures > 0 && now - std::max(r.last_failure, r.blocked_until) >= config_.window) r = Record{};
  ++r.failures;
  r.last_failure = now;
  if (r.failures <= allowance) return false;
  // Each failure beyond the allowance doubles the back-off: 2, 4, 8 … max_backoff.
  const std::uint32_t doublings = std::min<std::uint32_t>(r.over++, 30);
  const auto backoff = std::min<std::chrono::steady_clock::duration>(
      config_.backoff * (std::int64_t{1} << doublings), config_.max_backoff);
  const bool was_blocked = now < r.blocked_until;
  r.blocked_until = std::max(r.blocked_until, now + backoff);
  TimePoint::rep end = blocks_end_.load(std::memory_order_relaxed);
  while (end < r.blocked_until.time_since_epoch().count() &&
         !blocks_end_.compare_exchange_weak(end, r.blocked_until.time_since_epoch().count())) {
  }
  return !was_blocked;
}

std::optional<std::uint32_t> Throttle::source_blocked(const boost::asio::ip::address& source) {
  const TimePoint now = clock_();
  if (!any_blocked(now)) return std::nullopt;
  const std::lock_guard lock(mutex_);
  if (sources_.empty()) return std::nullopt;
  const auto found = sources_.find(sip::transport::source_key(source));
  if (found == sources_.end()) return std::nullopt;
  auto wait = remaining(found->second, now);
  if (wait) ++counters_.refused_source;
  return wait;
}

std::optional<std::uint32_t> Throttle::account_blocked(std::string_view account,
                                                       const boost::asio::ip::address& source) {
  const TimePoint now = clock_();
  if (!any_blocked(now)) return std::nullopt;
  const std::lock_guard lock(mutex_);
  const auto found = accounts_.find(std::string(account));
  if (found == accounts_.end()) return std::nullopt;
  auto wait = remaining(found->second.record, now);
  if (!wait) return std::nullopt;
  const sip::transport::SourceKey key = sip::transport::source_key(source);
  for (const auto& [known, at] : found->second.known) {
    if (known == key && now - at < config_.known_for) return std::nullopt;  // the user's own device
  }
  ++counters_.refused_account;
  return wait;
}

void Throttle::failed(const boost::asio::ip::address& source, std::string_view account, Failure why) {
  const std::lock_guard lock(mutex_);
  ++counters_.failures;
  const TimePoint now = clock_();
  if (!sip::transport::contains_any(config_.trusted, source)) {
    const sip::transport::SourceKey key = sip::transport::source_key(source);
    if (!sources_.contains(key)) make_room(sources_, sources_swept_, now);
    Record& r = sources_[key];
    if (count(r, config_.source_failures, now)) {
      ++counters_.source_blocks;
      spdlog::warn("{} blocked for {} s: {} {} within {} s", source, whole_seconds(r.blocked_until - now), r.failures,
                   why == Failure::kBadCredentials ? "failed authentications" : "requests for unknown users",
                   config_.window.count());
    }
  }
  if (why != Failure::kBadCredentials || account.empty()) return;
  auto found = accounts_.find(std::string(account));
  if (found == accounts_.end()) {
    make_room(accounts_, accounts_swept_, now);
    found = accounts_.emplace(std::string(account), Account{}).first;
  }
  Record& r = found->second.record;
  if (count(r, config_.account_failures, now)) {
    ++counters_.account_guards;
    spdlog::warn("account {} guarded for {} s: {} failed authentications within {} s (the last from {}); only "
                 "sources it authenticated from are heard for it",
                 account, whole_seconds(r.blocked_until - now), r.failures, config_.window.count(), source);
  }
}

void Throttle::succeeded(const boost::asio::ip::address& source, std::string_view account) {
  const std::lock_guard lock(mutex_);
  const TimePoint now = clock_();
  auto found = accounts_.find(std::string(account));
  if (found == accounts_.end()) {
    make_room(accounts_, accounts_swept_, now);
    found = accounts_.emplace(std::string(account), Account{}).first;
  }
  auto& known = found->second.known;
  const sip::transport::SourceKey key = sip::transport::source_key(source);
  for (auto& [k, at] : known) {
    if (k == key) {
      at = now;
      return;
    }
  }
  if (known.size() >= config_.known_sources && !known.empty()) {
    // The one unused longest makes way.
    auto stalest = std::min_element(known.begin(), known.end(), [](const auto& a, const auto& b) {
      return a.second < b.second;
    });
    *stalest = {key, now};
    return;
  }
  known.emplace_back(key, now);
}

template <class Map>
void Throttle::make_room(Map& map, TimePoint& swept, TimePoint now) {
  if (map.size() < config_.max_entries) return;
  if (now - swept >= std::chrono::seconds(1)) {
    swept = now;
    ++counters_.sweeps;
    // Entries quiet for a window say nothing any more.
    std::erase_if(map, [&](const auto& entry) {
      const auto& r = entry.second;
      if constexpr (std::is_same_v<std::decay_t<decltype(r)>, Record>) {
        return now - std::max(r.last_failure, r.blocked_until) >= config_.window;
      } else {
        return now - std::max(r.record.last_failure, r.record.blocked_until) >= config_.window && r.known.empty();
      }
    });
    if (map.size() < config_.max_entries) return;
  }
  map.erase(map.begin());
}

}  // namespace herald::services::auth
