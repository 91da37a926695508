#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <vector>

#include "sip/txn/clock.h"

namespace herald::sip::txn {

// Names one scheduled timer. Cheap to copy; a default-constructed id names no timer.
// Ids are never reused (each carries a 64-bit sequence number), so cancelling an id whose
// timer already fired or was cancelled is a harmless no-op, never a cancel of another timer.
struct TimerId {
  static constexpr std::uint32_t kNoSlot = std::numeric_limits<std::uint32_t>::max();

  std::uint32_t slot = kNoSlot;
  std::uint64_t sequence = 0;

  bool valid() const { return slot != kNoSlot; }
  friend bool operator==(const TimerId&, const TimerId&) = default;
};

// The one timer service of a shard (DESIGN.md): transaction timers A-M, and later
// registration, subscription and publication expiries, all run through it.
//
// Implementation: a binary min-heap ordered by (deadline, scheduling sequence) plus a slot
// table holding the callbacks. schedule is O(log n); cancel is O(1) plus popping cancelled
// entries off the top of the heap (amortised O(log n)); cancelled entries deeper in the heap
// are dropped lazily and the heap is compacted when they outnumber the live ones, so memory
// stays O(live timers). Nothing ever scans all timers except that amortised compaction.
//
// Threading: not thread-safe. One service per shard, used only from that shard's thread
// (the thread running its io_context). Callbacks run on that thread, inside run_due().
//
// Re-entrancy: a callback may schedule and cancel timers (including cancelling its own id,
// which is then a no-op because it has already fired). A callback must not call run_due().
//
// Lifetime: `clock` must outlive the service. Pending callbacks are destroyed, not run,
// when the service is destroyed.
class TimerService {
 public:
  using Callback = std::function<void()>;
  // Told the new earliest deadline whenever schedule_*() makes one earlier than every other
  // pending timer; the Asio driver uses it to re-arm its steady_timer.
  using WakeupHook = std::function<void(TimePoint)>;

  explicit TimerService(const Clock& clock);
  TimerService(const TimerService&) = delete;
  TimerService& operator=(const TimerService&) = delete;
  ~TimerService();

  const Clock& clock() const { return clock_; }

  // Schedules `callback` to run at the first run_due() whose clock reading is >= deadline.
  // A deadline in the past is allowed (the timer is due at once). `callback` must be
  // non-empty.
  TimerId schedule_at(TimePoint deadline, Callback callback);
  // Same, with deadline = clock().now() + delay. A negative delay counts as zero.
  TimerId schedule_after(Duration delay, Callback callback);

  // Cancels a pending timer; its callback is destroyed without running. Returns whether the
  // timer was pending. Safe with stale, fired or default ids.
  bool cancel(TimerId id);
  bool is_pending(TimerId id) const;

  // Runs, in (deadline, scheduling order) order, every timer that was pending when the call
  // began and whose deadline is <= clock().now() read once at the start. Timers scheduled by
  // those callbacks wait for the next call even when already due, so a callback that keeps
  // rescheduling itself with zero delay cannot starve the event loop. Returns how many ran.
  std::size_t run_due();

  // Earliest pending deadline, if any timer is pending.
  std::optional<TimePoint> next_deadline() const;
  // Number of pending (scheduled, not yet fired or cancelled) timers.
  std::size_t size() const { return live_; }
  bool empty() const { return live_ == 0; }

  void set_wakeup_hook(WakeupHook hook) { wakeup_hook_ = std::move(hook); }

 private:
  struct Entry {
    TimePoint deadline;
    std::uint64_t sequence;
    std::uint32_t slot;
  };
  struct Slot {
    Callback callback;
    std::uint64_t sequence = 0;  // sequence of the pending timer using the slot; 0 = free
  };

  bool is_live(const Entry& entry) const { return slots_[entry.slot].sequence == entry.sequence; }
  void push_entry(const Entry& entry);
  void pop_top();
  void drop_dead_top();
  void compact_if_sparse();
  Callback release_slot(std::uint32_t slot);

  const Clock& clock_;
  std::vector<Entry> heap_;  // min-heap on (deadline, sequence); may hold cancelled entries
  std::vector<Slot> slots_;
  std::vector<std::uint32_t> free_slots_;
  std::vector<Entry> deferred_;  // scratch for run_due: scheduled during the current run
  std::uint64_t next_sequence_ = 1;
  std::size_t live_ = 0;
  bool running_ = false;
  WakeupHook wakeup_hook_;
};

// Test and simulation helper: moves `clock` forward to `until` one deadline at a time,
// running the due timers at each step, so every callback sees clock.now() equal to its own
// deadline (as real time would show it) and timers scheduled by callbacks fire in turn when
// they fall due before `until`. Returns how many timers ran.
std::size_t run_until(TimerService& service, ManualClock& clock, TimePoint until);

}  // namespace herald::sip::txn
