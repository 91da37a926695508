#include "sip/txn/action.h"

#include <gtest/gtest.h>

#include "sip/txn/armed_timers.h"
#include "sip/txn/machine_inputs.h"

namespace herald::sip::txn {
namespace {

using std::chrono::seconds;

TEST(ActionsTest, FixedCapacityListKeepsOrder) {
  Actions actions;
  EXPECT_TRUE(actions.empty());
  actions.push_back(Action::of(ActionKind::kSendRequest));
  actions.push_back(Action::arm(TimerName::kB, seconds(32)));
  ASSERT_EQ(actions.size(), 2u);
  EXPECT_EQ(actions[0].kind, ActionKind::kSendRequest);
  EXPECT_EQ(actions[1], Action::arm(TimerName::kB, seconds(32)));
  EXPECT_NE(actions[1], Action::arm(TimerName::kB, seconds(31)));
}

TEST(ActionsTest, NamesForLogs) {
  EXPECT_EQ(to_string(TimerName::kA), "A");
  EXPECT_EQ(to_string(TimerName::kM), "M");
  EXPECT_EQ(to_string(ActionKind::kSendAck), "send-ack");
  EXPECT_EQ(to_string(ActionKind::kTerminated), "terminated");
}

TEST(ClassifyStatusTest, MapsCodesToClasses) {
  EXPECT_EQ(classify_status(100), ResponseClass::kProvisional);
  EXPECT_EQ(classify_status(183), ResponseClass::kProvisional);
  EXPECT_EQ(classify_status(200), ResponseClass::kSuccess);
  EXPECT_EQ(classify_status(299), ResponseClass::kSuccess);
  EXPECT_EQ(classify_status(300), ResponseClass::kFinal);
  EXPECT_EQ(classify_status(486), ResponseClass::kFinal);
  EXPECT_EQ(classify_status(699), ResponseClass::kFinal);
  EXPECT_EQ(classify_status(99), std::nullopt);
  EXPECT_EQ(classify_status(700), std::nullopt);
}

TEST(ArmedTimersTest, CancelsOnlyArmedTimersAndTerminateCancelsTheRest) {
  ArmedTimers armed;
  Actions out;
  armed.arm(out, TimerName::kE, seconds(1));
  armed.arm(out, TimerName::kF, seconds(32));
  armed.cancel(out, TimerName::kK);  // not armed: nothing
  EXPECT_EQ(out.size(), 2u);
  EXPECT_TRUE(armed.fired(TimerName::kE));
  EXPECT_FALSE(armed.fired(TimerName::kE));  // duplicate firing
  Actions end;
  armed.terminate(end);
  ASSERT_EQ(end.size(), 2u);
  EXPECT_EQ(end[0], Action::cancel(TimerName::kF));
  EXPECT_EQ(end[1], Action::of(ActionKind::kTerminated));
  EXPECT_TRUE(armed.none());
}

}  // namespace
}  // namespace herald::sip::txn
