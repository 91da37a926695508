#pragma once

// Nonce-count replay protection (RFC 7616 §3.4.5, RFC 3261 §22.4 via RFC 2617 qop=auth):
// for each nonce in use, the highest nc accepted; a request is accepted only with a higher
// nc. Bounded: entries leave when their nonce goes stale, and when the table is full the
// entry of the oldest nonce makes room.
//
// Per shard: one instance per shard (per thread), no locks; a client whose requests land
// on two shards may see a replay accepted once by each — a registrar or proxy that needs a
// global guarantee routes a client's requests to one shard.
//
// A nonce absent from the table is either new or was evicted to make room. To stay safe,
// the table remembers the newest issue time it ever evicted (the watermark) and treats an
// absent nonce as first use only when it was issued after that and is within its lifetime;
// otherwise accept() says false, and the Authenticator answers with a fresh challenge
// (stale=true), which costs a well-behaved client one round trip. Under a load of more than
// `capacity` distinct nonces per lifetime this causes such retries; raise the capacity.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "services/auth/nonce.h"

namespace herald::services::auth {

class NonceCounts {
 public:
  static constexpr std::size_t kDefaultCapacity = 100000;

  // `lifetime` should equal the NonceFactory's. `capacity` >= 1.
  explicit NonceCounts(Clock clock, std::int64_t lifetime = NonceFactory::kDefaultLifetime,
                       std::size_t capacity = kDefaultCapacity);

  // Records `nc` for `nonce` and returns true when nc is greater than every nc accepted for
  // that nonce; false for a replay (nc not increasing), for a nonce past its lifetime, for
  // a nonce that may have been evicted (see above), and for one that does not decode.
  // Precondition: NonceFactory::check() said kValid for this nonce (its timestamp is
  // trusted here).
  bool accept(std::string_view nonce, std::uint32_t nc);

  std::size_t size() const { return counts_.size(); }
  std::size_t capacity() const { return capacity_; }

 private:
  void drop_expired(std::int64_t now);

  Clock clock_;
  std::int64_t lifetime_;
  std::size_t capacity_;
  // (issued at, nonce) → highest nc accepted; ordered so the oldest nonce is first.
  std::map<std::pair<std::int64_t, std::string>, std::uint32_t> counts_;
  // Issue time of the newest nonce ever evicted for room; nonces not newer are refused.
  std::int64_t evicted_watermark_ = std::numeric_limits<std::int64_t>::min();
};

}  // namespace herald::services::auth
