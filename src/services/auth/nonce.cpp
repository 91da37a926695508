#include "services/auth/nonce.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
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

// HMAC-SHA256 (RFC 2104) with the key's two padded blocks absorbed once: OpenSSL's one-shot
// HMAC() looks up its SHA-256 implementation and keys a context on every call, 2-3 µs each,
// once for every 401 and once more for every REGISTER with credentials.
class NonceFactory::Mac {
 public:
  explicit Mac(std::string_view secret) {
    constexpr std::size_t kBlock = 64;
    std::array<unsigned char, kBlock> key{};
    if (secret.size() > kBlock) {
      unsigned int len = 0;
      EVP_Digest(secret.data(), secret.size(), key.data(), &len, EVP_sha256(), nullptr);
    } else {
      std::copy(secret.begin(), secret.end(), key.begin());
    }
    std::array<unsigned char, kBlock> pad{};
    for (std::size_t i = 0; i < kBlock; ++i) pad[i] = key[i] ^ 0x36;
    absorb(inner_.get(), pad);
    for (std::size_t i = 0; i < kBlock; ++i) pad[i] = key[i] ^ 0x5c;
    absorb(outer_.get(), pad);
    OPENSSL_cleanse(key.data(), key.size());
    OPENSSL_cleanse(pad.data(), pad.size());
  }

  // The first kMacSize bytes of HMAC-SHA256(secret, raw's timestamp and unique part || realm).
  // Thread-safe: the keyed states are only read (copied into a scratch context per thread).
  void sign(const Raw& raw, std::string_view realm, unsigned char* out /* kMacSize */) const {
    thread_local const Context scratch;
    std::array<unsigned char, EVP_MAX_MD_SIZE> inner{};
    unsigned int len = 0;
    EVP_MD_CTX_copy_ex(scratch.get(), inner_.get());
    EVP_DigestUpdate(scratch.get(), raw.data(), kTimestampSize + kRandomSize);
    EVP_DigestUpdate(scratch.get(), realm.data(), realm.size());
    EVP_DigestFinal_ex(scratch.get(), inner.data(), &len);
    std::array<unsigned char, EVP_MAX_MD_SIZE> full{};
    EVP_MD_CTX_copy_ex(scratch.get(), outer_.get());
    EVP_DigestUpdate(scratch.get(), inner.data(), len);
    EVP_DigestFinal_ex(scratch.get(), full.data(), &len);
    std::copy_n(full.begin(), kMacSize, out);
  }

 private:
  struct Context {
    Context() : ctx(EVP_MD_CTX_new()) {
      if (ctx == nullptr) throw std::runtime_error("auth: EVP_MD_CTX_new failed");
    }
    ~Context() { EVP_MD_CTX_free(ctx); }
    Context(const Context&) = delete;
    Context& operator=(const Context&) = delete;
    EVP_MD_CTX* get() const { return ctx; }
    EVP_MD_CTX* ctx;
  };

  static void absorb(EVP_MD_CTX* ctx, const std::array<unsigned char, 64>& pad) {
    if (EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) != 1 || EVP_DigestUpdate(ctx, pad.data(), pad.size()) != 1) {
      throw std::runtime_error("auth: SHA-256 is not available for the nonce MAC");
    }
  }

  Context inner_;
  Context outer_;
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
    : clock_(std::move(clock)), lifetime_(lifetime), next_(random_start()) {
  secret_.resize(kSecretSize);
  if (RAND_bytes(reinterpret_cast<unsigned char*>(secret_.data()),
                 static_cast<int>(secret_.size())) != 1) {
    throw std::runtime_error("auth: RAND_bytes failed to produce the nonce secret");
  }
  mac_ = std::make_unique<Mac>(secret_);
}

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
  mac_->sign(raw, realm, raw.data() + kTimestampSize + kRandomSize);
  return encode(raw);
}

NonceStatus NonceFactory::check(std::string_view nonce, std::string_view realm) const {
  auto raw = decode(nonce);
  if (!raw) return NonceStatus::kInvalid;
  std::array<unsigned char, kMacSize> expected{};
  mac_->sign(*raw, realm, expected.data());
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
