#pragma once

#include <cstddef>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace herald::services::auth {

// HMAC-SHA256 (RFC 2104) with its key absorbed once: the key's two padded blocks are hashed
// at construction and each sign() copies those states, instead of looking up SHA-256 and
// keying a context per call as OpenSSL's one-shot HMAC() does. For the MACs Herald puts in
// what it hands out (digest nonces, the dialog token in its Record-Route).
//
// Thread safety: sign() is const and uses a scratch context per thread; one Hmac may be
// shared by every shard. Construction throws std::runtime_error when SHA-256 is unavailable
// (startup only).
class Hmac {
 public:
  static constexpr std::size_t kSize = 32;  // bytes of a full HMAC-SHA256

  explicit Hmac(std::string_view key);
  ~Hmac();
  Hmac(const Hmac&) = delete;
  Hmac& operator=(const Hmac&) = delete;

  // The first out.size() bytes (at most kSize) of HMAC-SHA256(key, parts concatenated).
  // False when OpenSSL failed (out of memory): `out` is then unusable, and a caller checking
  // a MAC must treat the check as failed.
  [[nodiscard]] bool sign(std::initializer_list<std::string_view> parts, std::span<unsigned char> out) const;

 private:
  struct Keyed;
  std::unique_ptr<const Keyed> keyed_;
};

// `size` bytes from OpenSSL's random generator (RAND_bytes). Throws std::runtime_error when it
// fails (startup only).
std::string random_bytes(std::size_t size);

}  // namespace herald::services::auth
