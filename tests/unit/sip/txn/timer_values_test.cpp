#include "sip/txn/timer_values.h"

#include <gtest/gtest.h>

#include <vector>

namespace herald::sip::txn {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(TimerValuesTest, DefaultsAreRfc3261Table4) {
  const TimerValues t;
  EXPECT_EQ(t.t1, milliseconds(500));
  EXPECT_EQ(t.t2, seconds(4));
  EXPECT_EQ(t.t4, seconds(5));
  EXPECT_EQ(t.timer_a_initial(), milliseconds(500));
  EXPECT_EQ(t.timer_b(), seconds(32));
  EXPECT_EQ(t.timer_d(false), seconds(32));
  EXPECT_EQ(t.timer_d(true), Duration::zero());
  EXPECT_EQ(t.timer_e_initial(), milliseconds(500));
  EXPECT_EQ(t.timer_f(), seconds(32));
  EXPECT_EQ(t.timer_g_initial(), milliseconds(500));
  EXPECT_EQ(t.timer_h(), seconds(32));
  EXPECT_EQ(t.timer_i(false), seconds(5));
  EXPECT_EQ(t.timer_i(true), Duration::zero());
  EXPECT_EQ(t.timer_j(false), seconds(32));
  EXPECT_EQ(t.timer_j(true), Duration::zero());
  EXPECT_EQ(t.timer_k(false), seconds(5));
  EXPECT_EQ(t.timer_k(true), Duration::zero());
  EXPECT_EQ(t.timer_l(), seconds(32));
  EXPECT_EQ(t.timer_m(), seconds(32));
}

TEST(TimerValuesTest, RetransmitIntervalsDoubleAndECapsAtT2) {
  const TimerValues t;
  Duration a = t.timer_a_initial();
  Duration e = t.timer_e_initial();
  Duration g = t.timer_g_initial();
  std::vector<Duration> as, es, gs;
  for (int i = 0; i < 6; ++i) {
    as.push_back(a);
    es.push_back(e);
    gs.push_back(g);
    a = TimerValues::next_timer_a(a);
    e = t.next_timer_e(e);
    g = t.next_timer_g(g);
  }
  const std::vector<Duration> capped{milliseconds(500), seconds(1), seconds(2),
                                     seconds(4),        seconds(4), seconds(4)};
  EXPECT_EQ(as, (std::vector<Duration>{milliseconds(500), seconds(1), seconds(2), seconds(4),
                                       seconds(8), seconds(16)}));
  EXPECT_EQ(es, capped);
  EXPECT_EQ(gs, capped);
}

TEST(TimerValuesTest, DerivedFromConfiguredT1T2T4) {
  TimerValues t;
  t.t1 = seconds(1);
  t.t2 = seconds(8);
  t.t4 = seconds(10);
  EXPECT_EQ(t.timer_b(), seconds(64));
  EXPECT_EQ(t.timer_f(), seconds(64));
  EXPECT_EQ(t.timer_h(), seconds(64));
  EXPECT_EQ(t.timer_j(false), seconds(64));
  EXPECT_EQ(t.timer_d(false), seconds(64));
  EXPECT_EQ(t.timer_i(false), seconds(10));
  EXPECT_EQ(t.timer_k(false), seconds(10));
  EXPECT_EQ(t.next_timer_e(seconds(8)), seconds(8));
  // A small T1 (e.g. a LAN) never shortens Timer D below 32 s.
  t.t1 = milliseconds(100);
  EXPECT_EQ(t.timer_d(false), seconds(32));
  EXPECT_EQ(t.timer_b(), milliseconds(6400));
}

}  // namespace
}  // namespace herald::sip::txn
