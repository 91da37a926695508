#include "sip/txn/asio_timer_driver.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <vector>

namespace herald::sip::txn {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;

// These tests use real (steady) time with millisecond delays but assert only on order and
// completion, never on how long anything took.

TEST(AsioTimerDriverTest, RunsTimersInDeadlineOrderAndLetsTheLoopFinish) {
  boost::asio::io_context io;
  SteadyClock clock;
  TimerService service(clock);
  AsioTimerDriver driver(io, service);
  std::vector<int> fired;
  // One base instant: separate clock readings could reorder the deadlines under load.
  const TimePoint base = clock.now();
  service.schedule_at(base + milliseconds(3), [&] { fired.push_back(3); });
  service.schedule_at(base + milliseconds(1), [&] { fired.push_back(1); });
  service.schedule_at(base + milliseconds(2), [&] { fired.push_back(2); });
  io.run();  // returns once no timer is pending
  EXPECT_EQ(fired, (std::vector<int>{1, 2, 3}));
  EXPECT_TRUE(service.empty());
  EXPECT_EQ(driver.armed_deadline(), std::nullopt);
}

TEST(AsioTimerDriverTest, RunsTimersScheduledByCallbacks) {
  boost::asio::io_context io;
  SteadyClock clock;
  TimerService service(clock);
  AsioTimerDriver driver(io, service);
  std::vector<int> fired;
  service.schedule_after(milliseconds(1), [&] {
    fired.push_back(1);
    service.schedule_after(Duration::zero(), [&] {
      fired.push_back(2);
      service.schedule_after(milliseconds(1), [&] { fired.push_back(3); });
    });
  });
  io.run();
  EXPECT_EQ(fired, (std::vector<int>{1, 2, 3}));
  EXPECT_TRUE(service.empty());
}

TEST(AsioTimerDriverTest, EarlierTimerReArmsAndCancelledTimersNeverRun) {
  boost::asio::io_context io;
  SteadyClock clock;
  TimerService service(clock);
  AsioTimerDriver driver(io, service);
  bool late_ran = false;
  const TimerId late = service.schedule_after(hours(1), [&] { late_ran = true; });
  EXPECT_EQ(driver.armed_deadline(), service.next_deadline());
  bool early_ran = false;
  service.schedule_after(milliseconds(1), [&] {
    early_ran = true;
    service.cancel(late);
  });
  EXPECT_EQ(driver.armed_deadline(), service.next_deadline());
  io.run();  // would wait an hour had the cancel not re-armed the timer
  EXPECT_TRUE(early_ran);
  EXPECT_FALSE(late_ran);
}

TEST(AsioTimerDriverTest, ArmsForTimersScheduledBeforeItExisted) {
  boost::asio::io_context io;
  SteadyClock clock;
  TimerService service(clock);
  bool ran = false;
  service.schedule_after(milliseconds(1), [&] { ran = true; });
  AsioTimerDriver driver(io, service);
  io.run();
  EXPECT_TRUE(ran);
}

TEST(AsioTimerDriverTest, DestroyedDriverLeavesNoLiveHandler) {
  boost::asio::io_context io;
  SteadyClock clock;
  TimerService service(clock);
  bool ran = false;
  {
    AsioTimerDriver driver(io, service);
    service.schedule_after(milliseconds(1), [&] { ran = true; });
  }
  io.run();  // the aborted wait completes harmlessly
  EXPECT_FALSE(ran);
  EXPECT_EQ(service.size(), 1u);
}

}  // namespace
}  // namespace herald::sip::txn
