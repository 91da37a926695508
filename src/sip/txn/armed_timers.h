#pragma once

#include <bitset>
#include <cstddef>

#include "sip/txn/action.h"

namespace herald::sip::txn {

// Bookkeeping shared by the four machines: which timers the machine has asked its wrapper
// to arm and that have neither fired nor been cancelled. It is what lets each machine keep
// the contracts of kArmTimer / kCancelTimer / kTerminated (action.h) by construction.
class ArmedTimers {
 public:
  // Emits kArmTimer. The timer must not be armed already.
  void arm(Actions& out, TimerName timer, Duration duration) {
    assert(!bits_.test(index(timer)));
    bits_.set(index(timer));
    out.push_back(Action::arm(timer, duration));
  }
  // Emits kCancelTimer if the timer is armed; otherwise nothing.
  void cancel(Actions& out, TimerName timer) {
    if (!bits_.test(index(timer))) return;
    bits_.reset(index(timer));
    out.push_back(Action::cancel(timer));
  }
  // Records that `timer` fired. Returns false for a timer that is not armed: a late or
  // duplicate firing, which the machine must ignore.
  bool fired(TimerName timer) {
    if (!bits_.test(index(timer))) return false;
    bits_.reset(index(timer));
    return true;
  }
  // Cancels every armed timer, then emits kTerminated.
  void terminate(Actions& out) {
    for (std::size_t i = 0; i < kTimerNameCount; ++i) {
      if (bits_.test(i)) out.push_back(Action::cancel(static_cast<TimerName>(i)));
    }
    bits_.reset();
    out.push_back(Action::of(ActionKind::kTerminated));
  }
  bool is_armed(TimerName timer) const { return bits_.test(index(timer)); }
  bool none() const { return bits_.none(); }

 private:
  static std::size_t index(TimerName timer) { return static_cast<std::size_t>(timer); }

  std::bitset<kTimerNameCount> bits_;
};

}  // namespace herald::sip::txn
