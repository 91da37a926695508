#include "services/auth/hmac.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <string>

namespace herald::services::auth {
namespace {

std::array<unsigned char, 32> openssl_hmac(const std::string& key, const std::string& data) {
  std::array<unsigned char, 32> out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out.data(), &len);
  return out;
}

// The key absorbed once gives OpenSSL's HMAC-SHA256 for short, block-sized and long keys, and
// the parts of a message are simply concatenated.
TEST(Hmac, IsHmacSha256OfThePartsConcatenated) {
  for (const std::string& key : {std::string("k"), std::string(64, 'x'), std::string(100, 'y'), std::string()}) {
    const Hmac hmac(key);
    std::array<unsigned char, 32> got{};
    ASSERT_TRUE(hmac.sign({"dlg", std::string_view("\0", 1), "call-id@host", ""}, got));
    EXPECT_EQ(got, openssl_hmac(key, std::string("dlg") + '\0' + "call-id@host")) << key.size();
    std::array<unsigned char, 12> truncated{};
    ASSERT_TRUE(hmac.sign({"abc"}, truncated));
    EXPECT_TRUE(std::equal(truncated.begin(), truncated.end(), openssl_hmac(key, "abc").begin()));
  }
}

TEST(RandomBytes, AreOfTheSizeAskedAndDiffer) {
  EXPECT_EQ(random_bytes(32).size(), 32u);
  EXPECT_NE(random_bytes(32), random_bytes(32));
}

}  // namespace
}  // namespace herald::services::auth
