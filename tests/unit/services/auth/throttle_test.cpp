#include "services/auth/throttle.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace herald::services::auth {
namespace {

using boost::asio::ip::make_address;
using std::chrono::seconds;

class ThrottleTest : public ::testing::Test {
 protected:
  Throttle make(ThrottleConfig config = {}) {
    return Throttle(std::move(config), [this] { return now_; });
  }
  void fail(Throttle& t, const boost::asio::ip::address& from, int times, std::string_view account = "alice@example.com",
            Failure why = Failure::kBadCredentials) {
    for (int i = 0; i < times; ++i) t.failed(from, account, why);
  }
  std::chrono::steady_clock::time_point now_ = std::chrono::steady_clock::time_point{} + std::chrono::hours(100);
  boost::asio::ip::address attacker_ = make_address("203.0.113.5");
  boost::asio::ip::address user_ = make_address("198.51.100.7");
};

TEST_F(ThrottleTest, ASourceGetsItsAllowanceThenADoublingBackoff) {
  Throttle t = make();  // 10 failures, then 2 s doubling up to 900 s
  fail(t, attacker_, 10);
  EXPECT_FALSE(t.source_blocked(attacker_));
  fail(t, attacker_, 1);
  EXPECT_EQ(t.source_blocked(attacker_), 2u);
  now_ += seconds(2);
  EXPECT_FALSE(t.source_blocked(attacker_));
  fail(t, attacker_, 1);
  EXPECT_EQ(t.source_blocked(attacker_), 4u);
  now_ += seconds(4);
  fail(t, attacker_, 1);
  EXPECT_EQ(t.source_blocked(attacker_), 8u);
  for (int i = 0; i < 12; ++i) {
    const auto wait = t.source_blocked(attacker_);
    ASSERT_TRUE(wait);
    now_ += seconds(*wait);
    fail(t, attacker_, 1);
  }
  EXPECT_EQ(t.source_blocked(attacker_), 900u);  // capped
  EXPECT_EQ(t.counters().source_blocks, 15u);
  // Others are untouched.
  EXPECT_FALSE(t.source_blocked(user_));
}

// 500 guesses from one source, by the attacker's two best plans: wait out each back-off, or,
// once blocked, wait until forgotten (the back-off, then a quiet window) for 10 more free ones.
TEST_F(ThrottleTest, ADictionaryOf500WordsTakesOverAnHour) {
  for (const bool wait_to_be_forgotten : {false, true}) {
    SCOPED_TRACE(wait_to_be_forgotten ? "waiting to be forgotten" : "waiting out each back-off");
    Throttle t = make();
    const auto start = now_;
    for (int word = 0; word < 500; ++word) {
      if (auto wait = t.source_blocked(attacker_)) {
        now_ += seconds(*wait) + (wait_to_be_forgotten ? seconds(900) : seconds(0));
      }
      t.failed(attacker_, "alice@example.com", Failure::kBadCredentials);
    }
    EXPECT_GT(now_ - start, std::chrono::hours(10));  // 11 guesses per 902 s, or 1 per 900 s
  }
}

TEST_F(ThrottleTest, FailuresAreForgottenAfterAQuietWindow) {
  Throttle t = make();
  fail(t, attacker_, 10);
  now_ += seconds(900);
  fail(t, attacker_, 10);
  EXPECT_FALSE(t.source_blocked(attacker_));
  // Blocked, the window counts from the end of the back-off.
  fail(t, attacker_, 1);
  ASSERT_EQ(t.source_blocked(attacker_), 2u);
  now_ += seconds(899);
  fail(t, attacker_, 1);
  EXPECT_EQ(t.source_blocked(attacker_), 4u);  // remembered: the back-off doubled
}

TEST_F(ThrottleTest, ProbesForUnknownUsersCountLikeFailedAuthentications) {
  Throttle t = make();
  fail(t, attacker_, 11, {}, Failure::kUnknownUser);
  EXPECT_TRUE(t.source_blocked(attacker_));
  EXPECT_EQ(t.accounts(), 0u);  // no account was tried
}

TEST_F(ThrottleTest, TrustedSourcesAreNeverBlocked) {
  ThrottleConfig c;
  c.trusted = {*sip::transport::parse_subnet("203.0.113.0/24")};
  Throttle t = make(c);
  fail(t, attacker_, 100, "bob@example.com");
  EXPECT_FALSE(t.source_blocked(attacker_));
}

TEST_F(ThrottleTest, AGuardedAccountStillHearsItsOwnDevices) {
  ThrottleConfig c;
  c.account_failures = 20;
  Throttle t = make(c);
  t.succeeded(user_, "alice@example.com");  // the user's phone, before the attack
  // A distributed attack: 40 sources, 3 guesses each, none blocked as a source.
  for (int i = 0; i < 40; ++i) {
    auto from = make_address("203.0.113." + std::to_string(10 + i));
    fail(t, from, 3);
    EXPECT_FALSE(t.source_blocked(from));
  }
  EXPECT_GE(t.counters().account_guards, 1u);
  // A new source is not heard for alice; alice's own device is; other accounts are not guarded.
  EXPECT_TRUE(t.account_blocked("alice@example.com", make_address("203.0.113.200")));
  EXPECT_FALSE(t.account_blocked("alice@example.com", user_));
  EXPECT_FALSE(t.account_blocked("bob@example.com", make_address("203.0.113.200")));
  // The guard ends with its back-off.
  now_ += seconds(*t.account_blocked("alice@example.com", make_address("203.0.113.200")));
  EXPECT_FALSE(t.account_blocked("alice@example.com", make_address("203.0.113.200")));
}

TEST_F(ThrottleTest, TheRealUserOnAnotherSourceIsNotLockedOutByOneAttacker) {
  Throttle t = make();
  // The attacker hammers for a minute; the server refuses its requests while it is blocked,
  // unchecked, so only the guesses it was let make count against the account.
  for (int i = 0; i < 600; ++i) {
    if (!t.source_blocked(attacker_)) t.failed(attacker_, "alice@example.com", Failure::kBadCredentials);
    now_ += std::chrono::milliseconds(100);
  }
  EXPECT_EQ(t.counters().account_guards, 0u);
  EXPECT_TRUE(t.source_blocked(attacker_));
  EXPECT_FALSE(t.source_blocked(user_));
  EXPECT_FALSE(t.account_blocked("alice@example.com", user_));
}

TEST_F(ThrottleTest, TablesStayBounded) {
  ThrottleConfig c;
  c.max_entries = 16;
  Throttle t = make(c);
  for (int i = 0; i < 1000; ++i) {
    t.failed(make_address("10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250)),
             "user" + std::to_string(i) + "@example.com", Failure::kBadCredentials);
  }
  EXPECT_LE(t.sources(), 16u);
  EXPECT_LE(t.accounts(), 16u);
}

TEST_F(ThrottleTest, AFullTableIsSweptOnceASecondNotForEachNewSource) {
  ThrottleConfig c;
  c.max_entries = 16;
  Throttle t = make(c);
  for (int i = 0; i < 1000; ++i) {
    t.failed(make_address("10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250)), "",
             Failure::kUnknownUser);
  }
  EXPECT_EQ(t.counters().sweeps, 1u);  // the sources' table, once; nothing was quiet
  EXPECT_EQ(t.sources(), 16u);
  now_ += seconds(1);
  t.failed(make_address("10.9.9.9"), "", Failure::kUnknownUser);
  EXPECT_EQ(t.counters().sweeps, 2u);
  // A window later every entry is quiet: one sweep empties the table but for the newcomer.
  now_ += c.window + c.max_backoff;
  t.failed(make_address("10.9.9.10"), "", Failure::kUnknownUser);
  EXPECT_EQ(t.counters().sweeps, 3u);
  EXPECT_EQ(t.sources(), 1u);
}

}  // namespace
}  // namespace herald::services::auth
