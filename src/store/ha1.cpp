#include "store/ha1.h"

#include <openssl/evp.h>

#include <array>
#include <memory>

namespace herald::store {
namespace {

struct MdContextDeleter {
  void operator()(EVP_MD_CTX* context) const { EVP_MD_CTX_free(context); }
};
struct MdDeleter {
  void operator()(EVP_MD* md) const { EVP_MD_free(md); }
};

const char* openssl_name(DigestAlgorithm algorithm) {
  switch (algorithm) {
    case DigestAlgorithm::kMd5:
      return "MD5";
    case DigestAlgorithm::kSha256:
      return "SHA256";
  }
  return "";
}

}  // namespace

Result<std::string> compute_ha1(DigestAlgorithm algorithm, std::string_view username,
                                std::string_view realm, std::string_view password) {
  const char* name = openssl_name(algorithm);
  std::unique_ptr<EVP_MD, MdDeleter> md(EVP_MD_fetch(nullptr, name, nullptr));
  std::unique_ptr<EVP_MD_CTX, MdContextDeleter> context(EVP_MD_CTX_new());
  if (!md || !context) {
    return Status::error(StatusCode::kUnsupported,
                         std::string("OpenSSL cannot provide the digest ") + name);
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  bool ok = EVP_DigestInit_ex(context.get(), md.get(), nullptr) == 1 &&
            EVP_DigestUpdate(context.get(), username.data(), username.size()) == 1 &&
            EVP_DigestUpdate(context.get(), ":", 1) == 1 &&
            EVP_DigestUpdate(context.get(), realm.data(), realm.size()) == 1 &&
            EVP_DigestUpdate(context.get(), ":", 1) == 1 &&
            EVP_DigestUpdate(context.get(), password.data(), password.size()) == 1 &&
            EVP_DigestFinal_ex(context.get(), digest.data(), &length) == 1;
  if (!ok) {
    return Status::error(StatusCode::kIoError, std::string("OpenSSL ") + name + " digest failed");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(std::size_t{2} * length);
  for (unsigned int i = 0; i < length; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0x0f]);
  }
  return hex;
}

Result<std::string> username_of(std::string_view aor) {
  std::string_view rest = aor;
  for (std::string_view scheme : {"sip:", "sips:"}) {
    if (rest.starts_with(scheme)) {
      rest.remove_prefix(scheme.size());
      break;
    }
  }
  std::size_t at = rest.find('@');
  if (at == std::string_view::npos || at == 0) {
    return Status::invalid_argument("AOR '" + std::string(aor) + "' has no user part");
  }
  return std::string(rest.substr(0, at));
}

Result<User> make_user(std::string_view aor, std::string_view realm, std::string_view password) {
  Result<std::string> username = username_of(aor);
  if (!username.ok()) return username.status();
  Result<std::string> md5 = compute_ha1(DigestAlgorithm::kMd5, *username, realm, password);
  if (!md5.ok()) return md5.status();
  Result<std::string> sha256 = compute_ha1(DigestAlgorithm::kSha256, *username, realm, password);
  if (!sha256.ok()) return sha256.status();
  return User{std::string(aor), std::string(realm), std::move(md5).value(),
              std::move(sha256).value()};
}

}  // namespace herald::store
