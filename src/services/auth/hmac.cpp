#include "services/auth/hmac.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <stdexcept>

namespace herald::services::auth {
namespace {

constexpr std::size_t kBlock = 64;  // SHA-256's block size

class Context {
 public:
  Context() : ctx_(EVP_MD_CTX_new()) {
    if (ctx_ == nullptr) throw std::runtime_error("auth: EVP_MD_CTX_new failed");
  }
  ~Context() { EVP_MD_CTX_free(ctx_); }
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  EVP_MD_CTX* get() const { return ctx_; }

 private:
  EVP_MD_CTX* ctx_;
};

void absorb(EVP_MD_CTX* ctx, const std::array<unsigned char, kBlock>& pad) {
  if (EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) != 1 || EVP_DigestUpdate(ctx, pad.data(), pad.size()) != 1) {
    throw std::runtime_error("auth: SHA-256 is not available for HMAC");
  }
}

}  // namespace

// The SHA-256 states after the inner (key ^ ipad) and outer (key ^ opad) blocks.
struct Hmac::Keyed {
  Context inner;
  Context outer;
};

Hmac::Hmac(std::string_view key) : keyed_(std::make_unique<Keyed>()) {
  std::array<unsigned char, kBlock> block{};
  if (key.size() > kBlock) {
    unsigned int len = 0;
    if (EVP_Digest(key.data(), key.size(), block.data(), &len, EVP_sha256(), nullptr) != 1) {
      throw std::runtime_error("auth: SHA-256 is not available for HMAC");
    }
  } else {
    std::copy(key.begin(), key.end(), block.begin());
  }
  std::array<unsigned char, kBlock> pad{};
  for (std::size_t i = 0; i < kBlock; ++i) pad[i] = block[i] ^ 0x36;
  absorb(keyed_->inner.get(), pad);
  for (std::size_t i = 0; i < kBlock; ++i) pad[i] = block[i] ^ 0x5c;
  absorb(keyed_->outer.get(), pad);
  OPENSSL_cleanse(block.data(), block.size());
  OPENSSL_cleanse(pad.data(), pad.size());
}

Hmac::~Hmac() = default;

bool Hmac::sign(std::initializer_list<std::string_view> parts, std::span<unsigned char> out) const {
  thread_local const Context scratch;
  std::array<unsigned char, EVP_MAX_MD_SIZE> inner{};
  std::array<unsigned char, EVP_MAX_MD_SIZE> full{};
  unsigned int len = 0;
  bool ok = EVP_MD_CTX_copy_ex(scratch.get(), keyed_->inner.get()) == 1;
  for (std::string_view part : parts) ok = ok && EVP_DigestUpdate(scratch.get(), part.data(), part.size()) == 1;
  ok = ok && EVP_DigestFinal_ex(scratch.get(), inner.data(), &len) == 1;
  ok = ok && EVP_MD_CTX_copy_ex(scratch.get(), keyed_->outer.get()) == 1;
  ok = ok && EVP_DigestUpdate(scratch.get(), inner.data(), len) == 1;
  ok = ok && EVP_DigestFinal_ex(scratch.get(), full.data(), &len) == 1;
  if (!ok) return false;
  std::copy_n(full.begin(), std::min(out.size(), kSize), out.begin());
  return true;
}

std::string random_bytes(std::size_t size) {
  std::string bytes(size, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(size)) != 1) {
    throw std::runtime_error("auth: RAND_bytes failed");
  }
  return bytes;
}

}  // namespace herald::services::auth
