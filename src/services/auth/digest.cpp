#include "services/auth/digest.h"

#include <openssl/evp.h>

#include <array>
#include <cassert>
#include <initializer_list>
#include <memory>

#include "sip/msg/grammar.h"

namespace herald::services::auth {
namespace {

// Fetched once: given EVP_md5() or EVP_sha256(), every EVP_DigestInit_ex looks the
// implementation up among the providers again, under a lock (about 1 µs of a REGISTER's
// three digests each). Never freed: they live as long as the process.
const EVP_MD* evp_md(Algorithm algorithm) {
  static const EVP_MD* const md5 = EVP_MD_fetch(nullptr, "MD5", nullptr);
  static const EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA2-256", nullptr);
  return algorithm == Algorithm::kSha256 ? sha256 : md5;
}

// H(p0 ":" p1 ":" …) without building the joined string.
std::string hex_digest_of(Algorithm algorithm, std::initializer_list<std::string_view> parts) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int md_len = 0;
  // One context per thread, initialised anew for each digest: not allocated and freed each time.
  thread_local const std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> scratch(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_MD_CTX* ctx = scratch.get();
  const EVP_MD* md_type = evp_md(algorithm);
  bool ok = ctx != nullptr && md_type != nullptr && EVP_DigestInit_ex(ctx, md_type, nullptr) == 1;
  bool first = true;
  for (std::string_view part : parts) {
    if (!ok) break;
    if (!first) ok = EVP_DigestUpdate(ctx, ":", 1) == 1;
    first = false;
    if (ok && !part.empty()) ok = EVP_DigestUpdate(ctx, part.data(), part.size()) == 1;
  }
  if (ok) ok = EVP_DigestFinal_ex(ctx, md.data(), &md_len) == 1;
  // MD5 and SHA-256 are in OpenSSL's default provider; failure means a broken installation.
  assert(ok);
  if (!ok) return {};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(static_cast<std::size_t>(md_len) * 2, '0');
  for (std::size_t i = 0; i < md_len; ++i) {
    out[2 * i] = kHex[md[i] >> 4];
    out[2 * i + 1] = kHex[md[i] & 0x0f];
  }
  return out;
}

}  // namespace

std::string_view algorithm_name(Algorithm algorithm) {
  return algorithm == Algorithm::kSha256 ? "SHA-256" : "MD5";
}

std::optional<Algorithm> parse_algorithm(std::string_view name) {
  if (sip::grammar::iequals(name, "MD5")) return Algorithm::kMd5;
  if (sip::grammar::iequals(name, "SHA-256")) return Algorithm::kSha256;
  return std::nullopt;
}

std::size_t hex_length(Algorithm algorithm) { return algorithm == Algorithm::kSha256 ? 64 : 32; }

std::string hex_digest(Algorithm algorithm, std::string_view data) {
  return hex_digest_of(algorithm, {data});
}

std::string ha1(Algorithm algorithm, std::string_view username, std::string_view realm,
                std::string_view password) {
  return hex_digest_of(algorithm, {username, realm, password});
}

std::string ha2(Algorithm algorithm, std::string_view method, std::string_view digest_uri) {
  return hex_digest_of(algorithm, {method, digest_uri});
}

std::string response(Algorithm algorithm, std::string_view ha1, std::string_view nonce,
                     std::string_view nc, std::string_view cnonce, std::string_view qop,
                     std::string_view ha2) {
  return hex_digest_of(algorithm, {ha1, nonce, nc, cnonce, qop, ha2});
}

std::string response_rfc2069(Algorithm algorithm, std::string_view ha1, std::string_view nonce,
                             std::string_view ha2) {
  return hex_digest_of(algorithm, {ha1, nonce, ha2});
}

std::string unescape_quoted(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) ++i;
    out += s[i];
  }
  return out;
}

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

}  // namespace herald::services::auth
