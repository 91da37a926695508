#pragma once

#include <gtest/gtest.h>

#include <array>
#include <optional>
#include <ostream>
#include <utility>
#include <vector>

#include "sip/txn/action.h"
#include "sip/txn/clock.h"
#include "sip/txn/timer_service.h"

namespace herald::sip::txn {

inline void PrintTo(const Action& action, std::ostream* os) {
  *os << to_string(action.kind);
  if (action.kind == ActionKind::kArmTimer || action.kind == ActionKind::kCancelTimer) {
    *os << ' ' << to_string(action.timer);
  }
  if (action.kind == ActionKind::kArmTimer) {
    *os << ' ' << std::chrono::duration_cast<std::chrono::milliseconds>(action.duration).count()
        << "ms";
  }
}

namespace testing_support {

using std::chrono::milliseconds;
using std::chrono::seconds;

// One executed action and the (manual) time it was executed at, relative to the start.
struct Event {
  Duration at;
  Action action;
};

// Drives one machine on a ManualClock + TimerService, the way the transaction wrapper will:
// executes every action in order, maps kArmTimer / kCancelTimer onto the TimerService and
// feeds fired timers back as on_timer(). Records everything it executed as a timeline.
template <typename Machine>
class MachineHarness {
 public:
  explicit MachineHarness(Machine machine) : service_(clock_), machine_(std::move(machine)) {}
  MachineHarness(const MachineHarness&) = delete;
  MachineHarness& operator=(const MachineHarness&) = delete;

  Machine& machine() { return machine_; }
  const std::vector<Event>& events() const { return events_; }
  Duration elapsed() const { return clock_.now() - start_; }
  const TimerService& service() const { return service_; }

  // Feeds one input: `input` is called with the machine and returns its actions.
  template <typename Input>
  Actions feed(Input&& input) {
    Actions actions = std::forward<Input>(input)(machine_);
    apply(actions);
    return actions;
  }

  // Lets `by` of manual time pass, firing due timers into the machine at their deadlines.
  void advance(Duration by) { run_until(service_, clock_, clock_.now() + by); }

  // Times (since the start) at which an action of `kind` was executed.
  std::vector<Duration> times_of(ActionKind kind) const {
    std::vector<Duration> times;
    for (const Event& event : events_) {
      if (event.action.kind == kind) times.push_back(event.at);
    }
    return times;
  }
  std::size_t count(ActionKind kind) const { return times_of(kind).size(); }
  bool is_armed(TimerName timer) const { return armed_[index(timer)].has_value(); }
  std::size_t armed_count() const { return service_.size(); }

 private:
  static std::size_t index(TimerName timer) { return static_cast<std::size_t>(timer); }

  void apply(const Actions& actions) {
    for (const Action& action : actions) {
      EXPECT_FALSE(terminated_) << "action after kTerminated";
      events_.push_back(Event{elapsed(), action});
      switch (action.kind) {
        case ActionKind::kArmTimer: {
          auto& slot = armed_[index(action.timer)];
          EXPECT_FALSE(slot.has_value()) << "timer armed twice: " << to_string(action.timer);
          const TimerName timer = action.timer;
          slot = service_.schedule_after(action.duration, [this, timer] {
            armed_[index(timer)].reset();
            apply(machine_.on_timer(timer));
          });
          break;
        }
        case ActionKind::kCancelTimer: {
          auto& slot = armed_[index(action.timer)];
          EXPECT_TRUE(slot.has_value()) << "cancel of unarmed timer " << to_string(action.timer);
          if (slot) {
            EXPECT_TRUE(service_.cancel(*slot));
          }
          slot.reset();
          break;
        }
        case ActionKind::kTerminated:
          terminated_ = true;
          EXPECT_EQ(service_.size(), 0u) << "timers still armed at kTerminated";
          break;
        default:
          break;
      }
    }
  }

  ManualClock clock_;
  TimePoint start_ = clock_.now();
  TimerService service_;
  Machine machine_;
  std::array<std::optional<TimerId>, kTimerNameCount> armed_{};
  std::vector<Event> events_;
  bool terminated_ = false;
};

// Shorthands for building expected action lists.
inline Action act(ActionKind kind) { return Action::of(kind); }
inline Action arm(TimerName timer, Duration d) { return Action::arm(timer, d); }
inline Action cancel(TimerName timer) { return Action::cancel(timer); }

inline std::vector<Action> to_vector(const Actions& actions) {
  return std::vector<Action>(actions.begin(), actions.end());
}

}  // namespace testing_support
}  // namespace herald::sip::txn
