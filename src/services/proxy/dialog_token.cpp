#include "services/proxy/dialog_token.h"

#include <openssl/crypto.h>

#include <array>

namespace herald::services::proxy {
namespace {

constexpr std::size_t kTokenBytes = 12;
constexpr std::string_view kHex = "0123456789abcdef";
constexpr std::string_view kLabel{"dlg\0", 4};
constexpr std::string_view kSeparator{"\0", 1};

}  // namespace

std::string DialogTokens::make(std::string_view call_id, std::string_view creator_tag) const {
  std::array<unsigned char, kTokenBytes> mac{};
  // An unsigned token (OpenSSL out of memory) is all zeros; check() refuses any token it
  // cannot recompute, so it proves nothing.
  static_cast<void>(hmac_.sign({kLabel, call_id, kSeparator, creator_tag}, mac));
  std::string token;
  token.reserve(2 * kTokenBytes);
  for (unsigned char byte : mac) {
    token.push_back(kHex[byte >> 4]);
    token.push_back(kHex[byte & 0xF]);
  }
  return token;
}

bool DialogTokens::check(std::string_view token, std::string_view call_id, std::string_view from_tag,
                         std::string_view to_tag) const {
  if (token.size() != 2 * kTokenBytes) return false;
  auto matches = [&](std::string_view tag) {
    std::array<unsigned char, kTokenBytes> mac{};
    if (!hmac_.sign({kLabel, call_id, kSeparator, tag}, mac)) return false;
    std::array<char, 2 * kTokenBytes> expected{};
    for (std::size_t i = 0; i < kTokenBytes; ++i) {
      expected[2 * i] = kHex[mac[i] >> 4];
      expected[2 * i + 1] = kHex[mac[i] & 0xF];
    }
    return CRYPTO_memcmp(expected.data(), token.data(), expected.size()) == 0;
  };
  // Both are computed, so that the time taken does not tell which side matched.
  const bool from = matches(from_tag);
  const bool to = matches(to_tag);
  return from || to;
}

}  // namespace herald::services::proxy
