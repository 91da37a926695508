#include "services/auth/nonce.h"

#include "services/auth/hmac.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <array>
#include <span>
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <utility>

namespace herald::services::auth {
namespace {

constexpr std::size_t kTimestampSize = 8;
constexpr std::size_t kRandomSize = 8;
constexpr std::size_t kMacSize = 16;
constexpr std::size_t kRawSize = kTimestampSize + kRandomSize + kMacSize;
using Raw = std::array<unsigned char, kRawSize>;

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int decode_char(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

// base64url without padding (RFC 4648 §5).
std::string encode(const Raw& raw) {
  std::string out;
  out.reserve(NonceFactory::kEncodedSize);
  std::size_t i = 0;
  for (; i + 3 <= raw.size(); i += 3) {
    unsigned v = (raw[i] << 16) | (raw[i + 1] << 8) | raw[i + 2];
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  // 32 bytes: two left over.
  unsigned v = (raw[i] << 16) | (raw[i + 1] << 8);
  out += kAlphabet[(v >> 18) & 63];
  out += kAlphabet[(v >> 12) & 63];
  out += kAlphabet[(v >> 6) & 63];
  return out;
}

std::optional<Raw> decode(std::string_view text) {
  if (text.size() != NonceFactory::kEncodedSize) return std::nullopt;
  Raw raw{};
  std::size_t out = 0;
  unsigned acc = 0;
  int bits = 0;
  for (char c : text) {
    int d = decode_char(c);
    if (d < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<unsigned>(d);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      raw[out++] = static_cast<unsigned char>((acc >> bits) & 0xff);
    }
    acc &= (1U << bits) - 1;  // keep only the bits not yet emitted
  }
  // Canonical encoding only: the 2 unused trailing bits must be zero.
  if ((acc & ((1U << bits) - 1)) != 0) return std::nullopt;
  return raw;
}

std::int64_t read_timestamp(const Raw& raw) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < kTimestampSize; ++i) v = (v << 8) | raw[i];
  return static_cast<std::int64_t>(v);
}

}  // namespace

Clock system_clock() {
  return [] {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
}

// The first kMacSize bytes of HMAC-SHA256(secret, the nonce's timestamp and unique part ||
// realm). Thread-safe (Hmac::sign is).
class NonceFactory::Mac {
 public:
  explicit Mac(std::string_view secret) : hmac_(secret) {}

  bool sign(const Raw& raw, std::string_view realm, unsigned char* out /* kMacSize */) const {
    const std::string_view signed_part(reinterpret_cast<const char*>(raw.data()), kTimestampSize + kRandomSize);
    return hmac_.sign({signed_part, realm}, std::span<unsigned char>(out, kMacSize));
  }

 private:
  Hmac hmac_;
};

namespace {

// Where the unique part of a factory's nonces starts counting: random, so that nodes sharing
// a secret do not issue the same nonces.
std::uint64_t random_start() {
  std::uint64_t start = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&start), sizeof start) != 1) {
    start = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  }
  return start;
}

}  // namespace

NonceFactory::NonceFactory(Clock clock, std::int64_t lifetime)
    : NonceFactory(random_bytes(kSecretSize), std::move(clock), lifetime) {}

NonceFactory::NonceFactory(std::string secret, Clock clock, std::int64_t lifetime)
    : secret_(std::move(secret)),
      clock_(std::move(clock)),
      lifetime_(lifetime),
      next_(random_start()),
      mac_(std::make_unique<Mac>(secret_)) {}

NonceFactory::~NonceFactory() = default;

std::string NonceFactory::make(std::string_view realm) const {
  Raw raw{};
  auto ts = static_cast<std::uint64_t>(clock_());
  for (std::size_t i = 0; i < kTimestampSize; ++i) {
    raw[kTimestampSize - 1 - i] = static_cast<unsigned char>(ts >> (8 * i));
  }
  // The unique part only keeps nonces of the same second apart; the MAC, not it, makes them
  // unforgeable and unpredictable. A counter does that without RAND_bytes' 2 µs a nonce.
  const std::uint64_t n = next_.fetch_add(1, std::memory_order_relaxed);
  for (std::size_t i = 0; i < kRandomSize; ++i) {
    raw[kTimestampSize + i] = static_cast<unsigned char>(n >> (8 * i));
  }
  // A nonce whose MAC could not be made (out of memory) is left unsigned: it never verifies,
  // and the client's next request is challenged again.
  static_cast<void>(mac_->sign(raw, realm, raw.data() + kTimestampSize + kRandomSize));
  return encode(raw);
}

NonceStatus NonceFactory::check(std::string_view nonce, std::string_view realm) const {
  auto raw = decode(nonce);
  if (!raw) return NonceStatus::kInvalid;
  std::array<unsigned char, kMacSize> expected{};
  if (!mac_->sign(*raw, realm, expected.data())) return NonceStatus::kInvalid;
  if (CRYPTO_memcmp(expected.data(), raw->data() + kTimestampSize + kRandomSize, kMacSize) != 0) {
    return NonceStatus::kInvalid;
  }
  std::int64_t age = clock_() - read_timestamp(*raw);
  if (age < -lifetime_) return NonceStatus::kInvalid;
  if (age > lifetime_) return NonceStatus::kStale;
  return NonceStatus::kValid;
}

std::optional<std::int64_t> NonceFactory::issued_at(std::string_view nonce) {
  auto raw = decode(nonce);
  if (!raw) return std::nullopt;
  return read_timestamp(*raw);
}

}  // namespace herald::services::auth
