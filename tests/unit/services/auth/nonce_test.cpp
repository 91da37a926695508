#include "services/auth/nonce.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

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

TEST(NonceFactory, RandomSecretsDiffer) {
  NonceFactory a;
  NonceFactory b;
  std::string nonce = a.make("example.com");
  EXPECT_EQ(a.check(nonce, "example.com"), NonceStatus::kValid);
  EXPECT_EQ(b.check(nonce, "example.com"), NonceStatus::kInvalid);
}

}  // namespace
}  // namespace herald::services::auth
