#include "services/auth/nonce_counts.h"

#include <algorithm>
#include <utility>

namespace herald::services::auth {

NonceCounts::NonceCounts(Clock clock, std::int64_t lifetime, std::size_t capacity)
    : clock_(std::move(clock)), lifetime_(lifetime), capacity_(std::max<std::size_t>(capacity, 1)) {}

void NonceCounts::drop_expired(std::int64_t now) {
  while (!counts_.empty() && now - counts_.begin()->first.first > lifetime_) {
    counts_.erase(counts_.begin());
  }
}

bool NonceCounts::accept(std::string_view nonce, std::uint32_t nc) {
  auto issued = NonceFactory::issued_at(nonce);
  if (!issued) return false;
  std::int64_t now = clock_();
  drop_expired(now);
  if (now - *issued > lifetime_) return false;

  auto key = std::make_pair(*issued, std::string(nonce));
  auto it = counts_.find(key);
  if (it != counts_.end()) {
    if (nc <= it->second) return false;
    it->second = nc;
    return true;
  }
  if (*issued <= evicted_watermark_) return false;
  if (nc == 0) return false;
  if (counts_.size() >= capacity_) {
    // Room is made only for a nonce newer than the oldest held; an older one is refused
    // (its client is challenged again and comes back with a new nonce).
    auto oldest = counts_.begin();
    if (*issued <= oldest->first.first) return false;
    evicted_watermark_ = std::max(evicted_watermark_, oldest->first.first);
    counts_.erase(oldest);
  }
  counts_.emplace(std::move(key), nc);
  return true;
}

}  // namespace herald::services::auth
