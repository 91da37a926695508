#include "services/auth/nonce_counts.h"

#include <gtest/gtest.h>

#include <string>

namespace herald::services::auth {
namespace {

class NonceCountsTest : public ::testing::Test {
 protected:
  std::int64_t now_ = 1'700'000'000;
  Clock clock_ = [this] { return now_; };
  NonceFactory factory_{std::string(32, 's'), clock_};
};

TEST_F(NonceCountsTest, IncreasingAcceptedReplayRejected) {
  NonceCounts counts(clock_);
  std::string n = factory_.make("example.com");
  EXPECT_TRUE(counts.accept(n, 1));
  EXPECT_FALSE(counts.accept(n, 1));  // replay
  EXPECT_TRUE(counts.accept(n, 2));
  EXPECT_TRUE(counts.accept(n, 5));  // gaps are allowed
  EXPECT_FALSE(counts.accept(n, 3));
  EXPECT_FALSE(counts.accept(n, 5));
  EXPECT_TRUE(counts.accept(n, 6));
  // Another nonce has its own count.
  std::string m = factory_.make("example.com");
  EXPECT_TRUE(counts.accept(m, 1));
  EXPECT_EQ(counts.size(), 2U);
}

TEST_F(NonceCountsTest, ZeroAndUndecodableRefused) {
  NonceCounts counts(clock_);
  EXPECT_FALSE(counts.accept(factory_.make("example.com"), 0));
  EXPECT_FALSE(counts.accept("not-a-nonce", 1));
  EXPECT_EQ(counts.size(), 0U);
}

TEST_F(NonceCountsTest, EntriesExpireWithTheirNonce) {
  NonceCounts counts(clock_, 300);
  std::string n = factory_.make("example.com");
  EXPECT_TRUE(counts.accept(n, 1));
  now_ += 301;
  EXPECT_FALSE(counts.accept(n, 2));  // past its lifetime
  EXPECT_EQ(counts.size(), 0U);
  EXPECT_TRUE(counts.accept(factory_.make("example.com"), 1));
  EXPECT_EQ(counts.size(), 1U);
}

TEST_F(NonceCountsTest, EvictionKeepsSizeBoundedAndNeverReopensAReplay) {
  NonceCounts counts(clock_, 300, 2);
  std::string a = factory_.make("example.com");
  now_ += 1;
  std::string b = factory_.make("example.com");
  now_ += 1;
  std::string c = factory_.make("example.com");
  EXPECT_TRUE(counts.accept(a, 1));
  EXPECT_TRUE(counts.accept(b, 1));
  EXPECT_TRUE(counts.accept(c, 1));  // evicts a, the oldest
  EXPECT_EQ(counts.size(), 2U);
  // a was evicted: its nc 1 must not be accepted again, nor any later one.
  EXPECT_FALSE(counts.accept(a, 1));
  EXPECT_FALSE(counts.accept(a, 2));
  // b and c are still tracked.
  EXPECT_FALSE(counts.accept(b, 1));
  EXPECT_TRUE(counts.accept(b, 2));
  EXPECT_FALSE(counts.accept(c, 1));
  // A newer nonce makes room again.
  now_ += 1;
  std::string d = factory_.make("example.com");
  EXPECT_TRUE(counts.accept(d, 1));
  EXPECT_EQ(counts.size(), 2U);
  EXPECT_FALSE(counts.accept(b, 3));  // b evicted now
}

TEST_F(NonceCountsTest, FullTableRefusesNonceNotNewerThanItsOldest) {
  NonceCounts counts(clock_, 300, 1);
  std::string a = factory_.make("example.com");
  std::string b = factory_.make("example.com");  // same second
  EXPECT_TRUE(counts.accept(a, 1));
  EXPECT_FALSE(counts.accept(b, 1));  // refused; a stays
  EXPECT_TRUE(counts.accept(a, 2));
}

}  // namespace
}  // namespace herald::services::auth
