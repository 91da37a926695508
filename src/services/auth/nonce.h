#pragma once

// Stateless digest nonces (RFC 7616 §3.3 leaves the format to the server):
//
//   nonce = base64url( timestamp (8 bytes, big-endian unix seconds)
//                      || unique (8 bytes: a counter from a random start)
//                      || HMAC-SHA256(secret, timestamp || unique || realm)[0..16) )
//
// 43 characters, no padding, nothing that needs quoting. The server keeps no state per
// nonce: check() recomputes the MAC, which binds the nonce to its realm and its time of
// issue. Replay within the lifetime is stopped by NonceCounts (nonce_counts.h).

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace herald::services::auth {

// Unix time in seconds. Injected so tests of expiry need no waiting. Must be callable from
// every thread that calls the object it is given to.
using Clock = std::function<std::int64_t()>;
// The system clock (std::chrono::system_clock), as unix seconds.
Clock system_clock();

enum class NonceStatus {
  kValid,    // issued by us (MAC good) for this realm, within its lifetime
  kStale,    // issued by us for this realm, but older than the lifetime
  kInvalid,  // not ours: bad encoding, bad MAC, another realm, or dated far in the future
};

class NonceFactory {
 public:
  static constexpr std::size_t kSecretSize = 32;
  static constexpr std::int64_t kDefaultLifetime = 300;  // seconds
  static constexpr std::size_t kEncodedSize = 43;        // base64url of 32 bytes

  // A fresh 32-byte secret from RAND_bytes: nonces are valid only in this process, and
  // not after a restart (a client then gets stale=true and retries without prompting;
  // see Authenticator::verify). Throws std::runtime_error when the random generator fails
  // (startup only).
  explicit NonceFactory(Clock clock = system_clock(), std::int64_t lifetime = kDefaultLifetime);

  // A given secret (any length; at least kSecretSize random bytes recommended). Give every
  // shard, and every node behind one address, the same secret so that a nonce issued by
  // one is accepted by the others (a client's next request may land elsewhere). Keep it
  // out of logs. Nonce counts are not shared (see nonce_counts.h).
  NonceFactory(std::string secret, Clock clock, std::int64_t lifetime = kDefaultLifetime);
  ~NonceFactory();
  NonceFactory(const NonceFactory&) = delete;
  NonceFactory& operator=(const NonceFactory&) = delete;

  // A new nonce for `realm`, dated now.
  std::string make(std::string_view realm) const;

  // Whether `nonce` is one of ours for `realm`, and whether it is within its lifetime.
  // A nonce dated more than one lifetime in the future (clock skew between nodes sharing
  // a secret is tolerated up to that) is kInvalid.
  NonceStatus check(std::string_view nonce, std::string_view realm) const;

  std::int64_t lifetime() const { return lifetime_; }
  std::int64_t now() const { return clock_(); }

  // The timestamp a nonce carries, without checking its MAC; nullopt when it does not
  // decode. Use only on nonces check() accepted.
  static std::optional<std::int64_t> issued_at(std::string_view nonce);

  // Thread safety: make() and check() are const and use only thread-safe OpenSSL calls,
  // so one factory may be shared by shards if its clock may be called from all of them.

 private:
  class Mac;

  std::string secret_;
  Clock clock_;
  std::int64_t lifetime_;
  mutable std::atomic<std::uint64_t> next_;  // the unique part of the next nonce
  std::unique_ptr<const Mac> mac_;           // HMAC-SHA256 keyed with secret_
};

}  // namespace herald::services::auth
