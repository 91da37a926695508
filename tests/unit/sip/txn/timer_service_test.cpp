#include "sip/txn/timer_service.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <random>
#include <vector>

namespace herald::sip::txn {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class TimerServiceTest : public ::testing::Test {
 protected:
  ManualClock clock_;
  TimerService service_{clock_};
  std::vector<int> fired_;

  TimerService::Callback record(int n) {
    return [this, n] { fired_.push_back(n); };
  }
};

TEST(ManualClockTest, AdvancesAndSetsOnlyWhenTold) {
  ManualClock clock;
  const TimePoint t0 = clock.now();
  EXPECT_EQ(clock.now(), t0);
  clock.advance(milliseconds(250));
  EXPECT_EQ(clock.now() - t0, milliseconds(250));
  clock.set(t0 + seconds(3));
  EXPECT_EQ(clock.now() - t0, seconds(3));
}

TEST(SteadyClockTest, IsMonotonic) {
  SteadyClock clock;
  const TimePoint a = clock.now();
  EXPECT_LE(a, clock.now());
}

TEST_F(TimerServiceTest, EmptyServiceHasNoDeadlineAndRunsNothing) {
  EXPECT_TRUE(service_.empty());
  EXPECT_EQ(service_.next_deadline(), std::nullopt);
  EXPECT_EQ(service_.run_due(), 0u);
}

TEST_F(TimerServiceTest, FiresInDeadlineOrderOnlyWhenDue) {
  service_.schedule_after(milliseconds(30), record(3));
  service_.schedule_after(milliseconds(10), record(1));
  service_.schedule_after(milliseconds(20), record(2));
  EXPECT_EQ(service_.next_deadline(), clock_.now() + milliseconds(10));

  EXPECT_EQ(service_.run_due(), 0u);
  clock_.advance(milliseconds(9));
  EXPECT_EQ(service_.run_due(), 0u);
  clock_.advance(milliseconds(1));
  EXPECT_EQ(service_.run_due(), 1u);
  EXPECT_EQ(fired_, (std::vector<int>{1}));
  clock_.advance(milliseconds(100));
  EXPECT_EQ(service_.run_due(), 2u);
  EXPECT_EQ(fired_, (std::vector<int>{1, 2, 3}));
  EXPECT_TRUE(service_.empty());
}

TEST_F(TimerServiceTest, SameDeadlineFiresInSchedulingOrder) {
  const TimePoint at = clock_.now() + seconds(1);
  for (int i = 0; i < 50; ++i) service_.schedule_at(at, record(i));
  clock_.advance(seconds(1));
  EXPECT_EQ(service_.run_due(), 50u);
  std::vector<int> expected(50);
  for (int i = 0; i < 50; ++i) expected[static_cast<std::size_t>(i)] = i;
  EXPECT_EQ(fired_, expected);
}

TEST_F(TimerServiceTest, PastDeadlineAndNegativeDelayAreDueAtOnce) {
  clock_.advance(seconds(10));
  service_.schedule_at(clock_.now() - seconds(5), record(1));
  service_.schedule_after(-seconds(1), record(2));
  EXPECT_EQ(service_.run_due(), 2u);
  EXPECT_EQ(fired_, (std::vector<int>{1, 2}));
}

TEST_F(TimerServiceTest, CancelPreventsFiringAndIsIdempotent) {
  const TimerId a = service_.schedule_after(milliseconds(10), record(1));
  const TimerId b = service_.schedule_after(milliseconds(20), record(2));
  EXPECT_TRUE(service_.is_pending(a));
  EXPECT_TRUE(service_.cancel(a));
  EXPECT_FALSE(service_.is_pending(a));
  EXPECT_FALSE(service_.cancel(a));
  EXPECT_FALSE(service_.cancel(TimerId{}));
  EXPECT_EQ(service_.size(), 1u);
  EXPECT_EQ(service_.next_deadline(), clock_.now() + milliseconds(20));
  clock_.advance(seconds(1));
  EXPECT_EQ(service_.run_due(), 1u);
  EXPECT_EQ(fired_, (std::vector<int>{2}));
  EXPECT_FALSE(service_.cancel(b));  // already fired
}

TEST_F(TimerServiceTest, CancelDestroysTheCallback) {
  auto token = std::make_shared<int>(0);
  const TimerId id = service_.schedule_after(seconds(1), [token] {});
  EXPECT_EQ(token.use_count(), 2);
  service_.cancel(id);
  EXPECT_EQ(token.use_count(), 1);
}

TEST_F(TimerServiceTest, StaleIdNeverCancelsTheTimerThatReusedItsSlot) {
  const TimerId old_id = service_.schedule_after(milliseconds(1), record(1));
  clock_.advance(milliseconds(1));
  service_.run_due();
  const TimerId new_id = service_.schedule_after(milliseconds(1), record(2));
  EXPECT_EQ(new_id.slot, old_id.slot);  // slot reused, id still distinct
  EXPECT_NE(new_id, old_id);
  EXPECT_FALSE(service_.cancel(old_id));
  EXPECT_TRUE(service_.is_pending(new_id));
  clock_.advance(milliseconds(1));
  service_.run_due();
  EXPECT_EQ(fired_, (std::vector<int>{1, 2}));
}

TEST_F(TimerServiceTest, CallbackMayCancelALaterDueTimer) {
  TimerId victim;
  service_.schedule_after(milliseconds(10), [&] {
    fired_.push_back(1);
    EXPECT_TRUE(service_.cancel(victim));
  });
  victim = service_.schedule_after(milliseconds(10), record(2));  // due in the same run
  service_.schedule_after(milliseconds(10), record(3));
  clock_.advance(milliseconds(10));
  EXPECT_EQ(service_.run_due(), 2u);
  EXPECT_EQ(fired_, (std::vector<int>{1, 3}));
}

TEST_F(TimerServiceTest, CallbackCancellingItselfIsANoOp) {
  TimerId self;
  self = service_.schedule_after(milliseconds(1), [&] {
    EXPECT_FALSE(service_.cancel(self));
    fired_.push_back(1);
  });
  clock_.advance(milliseconds(1));
  EXPECT_EQ(service_.run_due(), 1u);
  EXPECT_EQ(fired_, (std::vector<int>{1}));
}

TEST_F(TimerServiceTest, TimersScheduledByCallbacksWaitForTheNextRun) {
  service_.schedule_after(milliseconds(5), [&] {
    fired_.push_back(1);
    service_.schedule_after(Duration::zero(), record(2));   // due now: next run_due()
    service_.schedule_after(milliseconds(5), record(3));    // due later
  });
  clock_.advance(milliseconds(5));
  EXPECT_EQ(service_.run_due(), 1u);
  EXPECT_EQ(fired_, (std::vector<int>{1}));
  EXPECT_EQ(service_.next_deadline(), clock_.now());
  EXPECT_EQ(service_.run_due(), 1u);
  EXPECT_EQ(fired_, (std::vector<int>{1, 2}));
  clock_.advance(milliseconds(5));
  EXPECT_EQ(service_.run_due(), 1u);
  EXPECT_EQ(fired_, (std::vector<int>{1, 2, 3}));
}

TEST_F(TimerServiceTest, CallbackMayCancelATimerItScheduled) {
  service_.schedule_after(milliseconds(1), [&] {
    const TimerId child = service_.schedule_after(Duration::zero(), record(2));
    EXPECT_TRUE(service_.cancel(child));
  });
  clock_.advance(milliseconds(1));
  service_.run_due();
  EXPECT_EQ(service_.run_due(), 0u);
  EXPECT_TRUE(service_.empty());
}

TEST_F(TimerServiceTest, WakeupHookReportsEachNewEarliestDeadline) {
  std::vector<TimePoint> wakeups;
  service_.set_wakeup_hook([&](TimePoint t) { wakeups.push_back(t); });
  const TimePoint t0 = clock_.now();
  service_.schedule_after(seconds(10), record(1));
  service_.schedule_after(seconds(20), record(2));  // not earliest: no wakeup
  service_.schedule_after(seconds(5), record(3));
  EXPECT_EQ(wakeups, (std::vector<TimePoint>{t0 + seconds(10), t0 + seconds(5)}));
}

TEST_F(TimerServiceTest, RunUntilShowsEachCallbackItsOwnDeadline) {
  const TimePoint t0 = clock_.now();
  std::vector<Duration> seen;
  service_.schedule_after(seconds(1), [&] {
    seen.push_back(clock_.now() - t0);
    service_.schedule_after(seconds(2), [&] { seen.push_back(clock_.now() - t0); });
  });
  service_.schedule_after(seconds(2), [&] { seen.push_back(clock_.now() - t0); });
  EXPECT_EQ(run_until(service_, clock_, t0 + seconds(10)), 3u);
  EXPECT_EQ(seen, (std::vector<Duration>{seconds(1), seconds(2), seconds(3)}));
  EXPECT_EQ(clock_.now(), t0 + seconds(10));
}

TEST_F(TimerServiceTest, DestroyingTheServiceDestroysPendingCallbacksUnrun) {
  auto token = std::make_shared<int>(0);
  {
    ManualClock clock;
    TimerService service(clock);
    service.schedule_after(seconds(1), [token] { *token = 1; });
  }
  EXPECT_EQ(token.use_count(), 1);
  EXPECT_EQ(*token, 0);
}

// Hundreds of thousands of timers, most of them cancelled (as transaction timers mostly
// are): everything left fires once, in non-decreasing deadline order.
TEST_F(TimerServiceTest, ManyTimersWithHeavyCancellation) {
  constexpr int kTimers = 300'000;
  std::mt19937 random(12345);
  std::uniform_int_distribution<int> delay_ms(0, 64'000);
  const TimePoint t0 = clock_.now();
  std::vector<TimerId> ids;
  std::vector<TimePoint> deadlines;
  ids.reserve(kTimers);
  std::vector<TimePoint> fired_at;
  for (int i = 0; i < kTimers; ++i) {
    const TimePoint deadline = t0 + milliseconds(delay_ms(random));
    deadlines.push_back(deadline);
    ids.push_back(service_.schedule_at(deadline, [&, deadline] {
      EXPECT_GE(clock_.now(), deadline);
      fired_at.push_back(deadline);
    }));
  }
  std::size_t cancelled = 0;
  for (int i = 0; i < kTimers; ++i) {
    if (i % 4 != 0) {
      EXPECT_TRUE(service_.cancel(ids[static_cast<std::size_t>(i)]));
      ++cancelled;
    }
  }
  EXPECT_EQ(service_.size(), kTimers - cancelled);
  // Advance in steps as a real event loop would.
  while (!service_.empty()) {
    clock_.advance(milliseconds(700));
    service_.run_due();
  }
  ASSERT_EQ(fired_at.size(), kTimers - cancelled);
  EXPECT_TRUE(std::is_sorted(fired_at.begin(), fired_at.end()));
}

}  // namespace
}  // namespace herald::sip::txn
