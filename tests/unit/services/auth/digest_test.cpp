#include "services/auth/digest.h"

#include <gtest/gtest.h>

namespace herald::services::auth {
namespace {

// RFC 2617 §3.5 (the published response; values re-checked with md5sum).
TEST(Digest, Rfc2617Md5Example) {
  std::string a1 = ha1(Algorithm::kMd5, "Mufasa", "testrealm@host.com", "Circle Of Life");
  EXPECT_EQ(a1, "939e7578ed9e3c518a452acee763bce9");
  std::string a2 = ha2(Algorithm::kMd5, "GET", "/dir/index.html");
  EXPECT_EQ(a2, "39aff3a2bab6126f332b942af96d3366");
  EXPECT_EQ(response(Algorithm::kMd5, a1, "dcd98b7102dd2f0e8b11d0f600bfb0c093", "00000001",
                     "0a4f113b", "auth", a2),
            "6629fae49393a05397450978507c4ef1");
}

// RFC 2069 style (no qop): H(HA1:nonce:HA2), computed independently with md5sum.
TEST(Digest, Rfc2069ResponseWithoutQop) {
  std::string a1 = ha1(Algorithm::kMd5, "Mufasa", "testrealm@host.com", "Circle Of Life");
  std::string a2 = ha2(Algorithm::kMd5, "GET", "/dir/index.html");
  EXPECT_EQ(response_rfc2069(Algorithm::kMd5, a1, "dcd98b7102dd2f0e8b11d0f600bfb0c093", a2),
            "670fd8c2df070c60b045671b8b24ff02");
}

constexpr const char* kRfc7616Nonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
constexpr const char* kRfc7616Cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";

// RFC 7616 §3.9.1, SHA-256 (intermediate values checked with sha256sum).
TEST(Digest, Rfc7616Sha256Example) {
  std::string a1 = ha1(Algorithm::kSha256, "Mufasa", "http-auth@example.org", "Circle of Life");
  EXPECT_EQ(a1, "7987c64c30e25f1b74be53f966b49b90f2808aa92faf9a00262392d7b4794232");
  std::string a2 = ha2(Algorithm::kSha256, "GET", "/dir/index.html");
  EXPECT_EQ(a2, "9a3fdae9a622fe8de177c24fa9c070f2b181ec85e15dcbdc32e10c82ad450b04");
  EXPECT_EQ(response(Algorithm::kSha256, a1, kRfc7616Nonce, "00000001", kRfc7616Cnonce, "auth",
                     a2),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
}

// RFC 7616 §3.9.1, MD5 with the same inputs.
TEST(Digest, Rfc7616Md5Example) {
  std::string a1 = ha1(Algorithm::kMd5, "Mufasa", "http-auth@example.org", "Circle of Life");
  std::string a2 = ha2(Algorithm::kMd5, "GET", "/dir/index.html");
  EXPECT_EQ(response(Algorithm::kMd5, a1, kRfc7616Nonce, "00000001", kRfc7616Cnonce, "auth", a2),
            "8ca523f5e9506fed4657c9700eebdbec");
}

TEST(Digest, HexDigestOfEmptyInput) {
  EXPECT_EQ(hex_digest(Algorithm::kMd5, ""), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(hex_digest(Algorithm::kSha256, ""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Digest, AlgorithmNames) {
  EXPECT_EQ(parse_algorithm("MD5"), Algorithm::kMd5);
  EXPECT_EQ(parse_algorithm("md5"), Algorithm::kMd5);
  EXPECT_EQ(parse_algorithm("SHA-256"), Algorithm::kSha256);
  EXPECT_EQ(parse_algorithm("sha-256"), Algorithm::kSha256);
  EXPECT_FALSE(parse_algorithm("MD5-sess"));
  EXPECT_FALSE(parse_algorithm("SHA-256-sess"));
  EXPECT_FALSE(parse_algorithm("SHA-512-256"));
  EXPECT_FALSE(parse_algorithm(""));
  EXPECT_EQ(algorithm_name(Algorithm::kSha256), "SHA-256");
  EXPECT_EQ(algorithm_name(Algorithm::kMd5), "MD5");
  EXPECT_EQ(hex_length(Algorithm::kMd5), 32U);
  EXPECT_EQ(hex_length(Algorithm::kSha256), 64U);
}

}  // namespace
}  // namespace herald::services::auth
