#include "services/auth/nonce.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace herald::services::auth {
namespace {

class NonceTest : public ::testing::Test {
 protected:
  std::int64_t now_ = 1'700'000'000;
  NonceFactory factory_{std::string(32, 's'), [this] { return now_; }};
};

TEST_F(NonceTest, RoundTrip) {
  std::string nonce = factory_.make("example.com");
  EXPECT_EQ(nonce.size(), NonceFactory::kEncodedSize);
  EXPECT_EQ(nonce.find_first_not_of(
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
            std::string::npos);
  EXPECT_EQ(factory_.check(nonce, "example.com"), NonceStatus::kValid);
  EXPECT_EQ(NonceFactory::issued_at(nonce), now_);
}

TEST_F(NonceTest, NoncesDiffer) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) seen.insert(factory_.make("example.com"));
  EXPECT_EQ(seen.size(), 100U);
}

TEST_F(NonceTest, StaleAfterLifetime) {
  std::string nonce = factory_.make("example.com");
  now_ += NonceFactory::kDefaultLifetime;
  EXPECT_EQ(factory_.check(nonce, "example.com"), NonceStatus::kValid);
  now_ += 1;
  EXPECT_EQ(factory_.check(nonce, "example.com"), NonceStatus::kStale);
}

TEST_F(NonceTest, FarFutureIsInvalid) {
  std::string nonce = factory_.make("example.com");
  now_ -= NonceFactory::kDefaultLifetime;  // our clock behind another node's: tolerated
  EXPECT_EQ(factory_.check(nonce, "example.com"), NonceStatus::kValid);
  now_ -= 1;
  EXPECT_EQ(factory_.check(nonce, "example.com"), NonceStatus::kInvalid);
}

TEST_F(NonceTest, TamperedNonceIsInvalid) {
  std::string nonce = factory_.make("example.com");
  for (std::size_t i = 0; i < nonce.size(); ++i) {
    std::string t = nonce;
    t[i] = t[i] == 'A' ? 'B' : 'A';
    EXPECT_EQ(factory_.check(t, "example.com"), NonceStatus::kInvalid) << i;
  }
  EXPECT_EQ(factory_.check(nonce.substr(1), "example.com"), NonceStatus::kInvalid);
  EXPECT_EQ(factory_.check(nonce + "A", "example.com"), NonceStatus::kInvalid);
  EXPECT_EQ(factory_.check("", "example.com"), NonceStatus::kInvalid);
  std::string bad = nonce;
  bad[5] = '+';
  EXPECT_EQ(factory_.check(bad, "example.com"), NonceStatus::kInvalid);
}

TEST_F(NonceTest, OtherRealmIsInvalid) {
  std::string nonce = factory_.make("example.com");
  EXPECT_EQ(factory_.check(nonce, "example.org"), NonceStatus::kInvalid);
  EXPECT_EQ(factory_.check(nonce, "EXAMPLE.COM"), NonceStatus::kInvalid);
}

TEST_F(NonceTest, SharedSecretAcceptedByAnotherFactory) {
  NonceFactory other(std::string(32, 's'), [this] { return now_; });
  EXPECT_EQ(other.check(factory_.make("example.com"), "example.com"), NonceStatus::kValid);
  NonceFactory stranger(std::string(32, 't'), [this] { return now_; });
  EXPECT_EQ(stranger.check(factory_.make("example.com"), "example.com"), NonceStatus::kInvalid);
}

// base64url without padding, as nonce.h writes it.
std::string decode_base64url(std::string_view text) {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  unsigned acc = 0;
  int bits = 0;
  for (char c : text) {
    acc = (acc << 6) | static_cast<unsigned>(kAlphabet.find(c));
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

// The nonce is the format nonce.h states, its MAC that of OpenSSL's own HMAC(): a node still
// running the one-shot HMAC() accepts nonces of one that absorbs the key once, and the other
// way round. Secrets longer than SHA-256's 64-byte block are hashed first (RFC 2104 §2).
TEST(NonceFactory, MacIsHmacSha256OfTimestampUniquePartAndRealm) {
  for (const std::string& secret : {std::string(32, 's'), std::string("k"), std::string(100, 'x')}) {
    NonceFactory factory(secret, [] { return std::int64_t{1'700'000'000}; });
    for (std::string_view realm : {"example.com", "", "a.much.longer.realm.example.org"}) {
      const std::string raw = decode_base64url(factory.make(realm));
      ASSERT_EQ(raw.size(), 32u);
      std::string data = raw.substr(0, 16);
      data.append(realm);
      std::array<unsigned char, EVP_MAX_MD_SIZE> expected{};
      unsigned int len = 0;
      HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), expected.data(), &len);
      ASSERT_EQ(len, 32u);
      EXPECT_EQ(raw.substr(16), std::string(reinterpret_cast<const char*>(expected.data()), 16))
          << "secret of " << secret.size() << " bytes, realm '" << realm << "'";
    }
  }
}

// Nonces made in the same second still differ, also across threads sharing a factory (the
// shards share one).
TEST(NonceFactory, NoncesOfOneSecondDifferAcrossThreads) {
  NonceFactory factory(std::string(32, 's'), [] { return std::int64_t{1'700'000'000}; });
  std::vector<std::string> made[2];
  std::thread other([&] {
    for (int i = 0; i < 2000; ++i) made[1].push_back(factory.make("example.com"));
  });
  for (int i = 0; i < 2000; ++i) made[0].push_back(factory.make("example.com"));
  other.join();
  std::set<std::string> seen(made[0].begin(), made[0].end());
  seen.insert(made[1].begin(), made[1].end());
  EXPECT_EQ(seen.size(), 4000u);
  for (const auto& list : made) {
    for (const std::string& nonce : list) ASSERT_EQ(factory.check(nonce, "example.com"), NonceStatus::kValid);
  }
}

TEST(NonceFactory, RandomSecretsDiffer) {
  NonceFactory a;
  NonceFactory b;
  std::string nonce = a.make("example.com");
  EXPECT_EQ(a.check(nonce, "example.com"), NonceStatus::kValid);
  EXPECT_EQ(b.check(nonce, "example.com"), NonceStatus::kInvalid);
}

}  // namespace
}  // namespace herald::services::auth
