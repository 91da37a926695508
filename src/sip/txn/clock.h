#pragma once

#include <chrono>

namespace herald::sip::txn {

// All transaction-layer time is steady (monotonic) time; wall-clock jumps never fire timers.
using TimePoint = std::chrono::steady_clock::time_point;
using Duration = std::chrono::steady_clock::duration;

// Source of "now" for the timer service and everything that schedules on it. Injected so
// that tests replace real time with a ManualClock and run RFC 3261 timelines instantly.
// Implementations must be monotonic: now() never decreases.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
};

// The production clock: std::chrono::steady_clock.
class SteadyClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::steady_clock::now(); }
};

// A clock that moves only when told to. Single-threaded, for tests and simulations.
// Contract: advance() takes a non-negative duration and set() a time not before now();
// both are asserted, because a clock that goes backwards breaks the timer service's order.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimePoint start = TimePoint{}) : now_(start) {}

  TimePoint now() const override { return now_; }
  void advance(Duration by);
  void set(TimePoint to);

 private:
  TimePoint now_;
};

}  // namespace herald::sip::txn
