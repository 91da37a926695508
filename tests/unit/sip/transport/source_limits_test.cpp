#include "sip/transport/source_limits.h"

#include <gtest/gtest.h>

#include <chrono>

namespace herald::sip::transport {
namespace {

using boost::asio::ip::make_address;
using std::chrono::milliseconds;
using Verdict = RequestBudget::Verdict;

TEST(Subnet, ParsesNetworksAndBareAddresses) {
  auto v4 = parse_subnet("10.0.0.0/8");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->prefix, 8u);
  EXPECT_TRUE(v4->contains(make_address("10.200.1.2")));
  EXPECT_FALSE(v4->contains(make_address("11.0.0.1")));
  EXPECT_FALSE(v4->contains(make_address("::ffff:10.0.0.1")));  // another family

  auto one = parse_subnet("192.0.2.7");
  ASSERT_TRUE(one);
  EXPECT_EQ(one->prefix, 32u);
  EXPECT_TRUE(one->contains(make_address("192.0.2.7")));
  EXPECT_FALSE(one->contains(make_address("192.0.2.8")));

  auto v6 = parse_subnet("2001:db8::/33");
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->contains(make_address("2001:db8:7fff::1")));
  EXPECT_FALSE(v6->contains(make_address("2001:db8:8000::1")));  // the 33rd bit differs

  auto all = parse_subnet("0.0.0.0/0");
  ASSERT_TRUE(all);
  EXPECT_TRUE(all->contains(make_address("203.0.113.9")));
}

TEST(Subnet, RefusesWhatIsNoNetwork) {
  EXPECT_FALSE(parse_subnet("10.0.0.0/33"));
  EXPECT_FALSE(parse_subnet("::1/129"));
  EXPECT_FALSE(parse_subnet("10.0.0.0/"));
  EXPECT_FALSE(parse_subnet("10.0.0.0/8x"));
  EXPECT_FALSE(parse_subnet("localhost"));
  EXPECT_FALSE(parse_subnet(""));
}

TEST(SourceKey, Ipv6CountsPerSlash64) {
  EXPECT_EQ(source_key(make_address("2001:db8:1:2::1")), source_key(make_address("2001:db8:1:2:ffff::9")));
  EXPECT_NE(source_key(make_address("2001:db8:1:2::1")), source_key(make_address("2001:db8:1:3::1")));
  EXPECT_NE(source_key(make_address("192.0.2.1")), source_key(make_address("192.0.2.2")));
  EXPECT_NE(source_key(make_address("0.0.0.1")), source_key(make_address("::1")));  // families apart
}

class RequestBudgetTest : public ::testing::Test {
 protected:
  RequestBudgetConfig config(double rate, double burst) {
    RequestBudgetConfig c;
    c.rate = rate;
    c.burst = burst;
    return c;
  }
  RequestBudget::Clock::time_point t0_ = RequestBudget::Clock::time_point{} + std::chrono::hours(1);
  boost::asio::ip::address a_ = make_address("192.0.2.1");
  boost::asio::ip::address b_ = make_address("192.0.2.2");
};

TEST_F(RequestBudgetTest, ABurstThenTheRateThenOneAnswerASecond) {
  RequestBudget budget(config(10, 5));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(budget.admit(a_, t0_), Verdict::kAdmit) << i;
  // Out of tokens: the first refusal is answered, the rest of that second dropped.
  EXPECT_EQ(budget.admit(a_, t0_), Verdict::kRefuse);
  EXPECT_EQ(budget.admit(a_, t0_ + milliseconds(50)), Verdict::kDrop);
  // 100 ms at 10/s brings one token back.
  EXPECT_EQ(budget.admit(a_, t0_ + milliseconds(160)), Verdict::kAdmit);
  EXPECT_EQ(budget.admit(a_, t0_ + milliseconds(170)), Verdict::kDrop);
  // A second after the last answer, the next refusal is answered again.
  EXPECT_EQ(budget.admit(a_, t0_ + milliseconds(1000)), Verdict::kAdmit);
  Verdict v = Verdict::kAdmit;
  for (int i = 0; i < 20 && v == Verdict::kAdmit; ++i) v = budget.admit(a_, t0_ + milliseconds(1000));
  EXPECT_EQ(v, Verdict::kRefuse);
  EXPECT_EQ(budget.counters().refused, 2u);
  EXPECT_GE(budget.counters().dropped, 2u);
  EXPECT_EQ(budget.retry_after(), 1u);
}

TEST_F(RequestBudgetTest, OneSourceDoesNotSpendAnothersBudget) {
  RequestBudget budget(config(1, 2));
  EXPECT_EQ(budget.admit(a_, t0_), Verdict::kAdmit);
  EXPECT_EQ(budget.admit(a_, t0_), Verdict::kAdmit);
  EXPECT_NE(budget.admit(a_, t0_), Verdict::kAdmit);
  EXPECT_EQ(budget.admit(b_, t0_), Verdict::kAdmit);
  EXPECT_EQ(budget.admit(b_, t0_), Verdict::kAdmit);
}

TEST_F(RequestBudgetTest, TrustedSourcesAndAZeroRateHaveNoBudget) {
  RequestBudgetConfig c = config(1, 1);
  c.trusted = {*parse_subnet("192.0.2.0/31")};
  RequestBudget budget(c);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(budget.admit(a_, t0_), Verdict::kAdmit);
  EXPECT_EQ(budget.admit(b_, t0_), Verdict::kAdmit);
  EXPECT_NE(budget.admit(b_, t0_), Verdict::kAdmit);  // 192.0.2.2 is outside the /31
  RequestBudget off(config(0, 1));
  for (int i = 0; i < 100; ++i) EXPECT_EQ(off.admit(a_, t0_), Verdict::kAdmit);
  EXPECT_EQ(off.sources(), 0u);
}

TEST_F(RequestBudgetTest, TheTableStaysBoundedAndIdleSourcesAreForgotten) {
  RequestBudgetConfig c = config(100, 10);
  c.max_sources = 3;
  RequestBudget budget(c);
  for (int i = 1; i <= 3; ++i) budget.admit(make_address("198.51.100." + std::to_string(i)), t0_);
  EXPECT_EQ(budget.sources(), 3u);
  // Full, none idle yet: a new source is admitted untracked.
  EXPECT_EQ(budget.admit(make_address("198.51.100.9"), t0_), Verdict::kAdmit);
  EXPECT_EQ(budget.sources(), 3u);
  EXPECT_EQ(budget.counters().untracked, 1u);
  // All three have refilled (10 tokens at 100/s take a tenth of a second), but the table was
  // swept less than a second ago: still untracked.
  EXPECT_EQ(budget.admit(make_address("198.51.100.9"), t0_ + milliseconds(200)), Verdict::kAdmit);
  EXPECT_EQ(budget.sources(), 3u);
  // A second after the last sweep, the idle ones make room.
  EXPECT_EQ(budget.admit(make_address("198.51.100.9"), t0_ + milliseconds(1000)), Verdict::kAdmit);
  EXPECT_EQ(budget.sources(), 1u);
  EXPECT_EQ(budget.counters().sweeps, 2u);
}

TEST_F(RequestBudgetTest, NewSourcesAtAFullTableCostOneSweepASecondNotOneEach) {
  RequestBudgetConfig c = config(100, 10);
  c.max_sources = 1000;
  RequestBudget budget(c);
  for (int i = 0; i < 1000; ++i) budget.admit(make_address("10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250)), t0_);
  for (int i = 0; i < 5000; ++i) {
    EXPECT_EQ(budget.admit(make_address("10.1." + std::to_string(i / 250) + "." + std::to_string(i % 250)),
                           t0_ + milliseconds(i / 10)),
              Verdict::kAdmit);
  }
  // 5,000 newcomers over half a second: one sweep (none of the 1,000 was idle yet).
  EXPECT_EQ(budget.counters().sweeps, 1u);
  EXPECT_EQ(budget.counters().untracked, 5000u);
  EXPECT_EQ(budget.sources(), 1000u);
}

}  // namespace
}  // namespace herald::sip::transport
