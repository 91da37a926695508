#include "sip/txn/timer_service.h"

#include <algorithm>
#include <cassert>
#include <utility>

namespace herald::sip::txn {
namespace {

// std::push_heap builds a max-heap; "later" as the ordering puts the earliest entry on top.
// Equal deadlines fall back to the sequence so same-instant timers run in scheduling order.
struct Later {
  template <typename E>
  bool operator()(const E& a, const E& b) const {
    if (a.deadline != b.deadline) return a.deadline > b.deadline;
    return a.sequence > b.sequence;
  }
};

// Compaction threshold: below this many cancelled entries the heap is left alone.
constexpr std::size_t kMinDeadEntriesToCompact = 1024;

}  // namespace

TimerService::TimerService(const Clock& clock) : clock_(clock) {}

TimerService::~TimerService() { assert(!running_); }

TimerId TimerService::schedule_at(TimePoint deadline, Callback callback) {
  assert(callback);
  std::uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    assert(slots_.size() < TimerId::kNoSlot);
    slot = static_cast<std::uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  const std::uint64_t sequence = next_sequence_++;
  slots_[slot].callback = std::move(callback);
  slots_[slot].sequence = sequence;
  ++live_;

  const bool earliest = heap_.empty() || Later{}(heap_.front(), Entry{deadline, sequence, slot});
  push_entry(Entry{deadline, sequence, slot});
  if (earliest && wakeup_hook_) wakeup_hook_(deadline);
  return TimerId{slot, sequence};
}

TimerId TimerService::schedule_after(Duration delay, Callback callback) {
  return schedule_at(clock_.now() + std::max(delay, Duration::zero()), std::move(callback));
}

bool TimerService::cancel(TimerId id) {
  if (!is_pending(id)) return false;
  // Destroy the callback only after the bookkeeping is consistent: its captures' destructors
  // may re-enter the service.
  Callback doomed = release_slot(id.slot);
  drop_dead_top();
  compact_if_sparse();
  return true;
}

bool TimerService::is_pending(TimerId id) const {
  return id.valid() && id.slot < slots_.size() && slots_[id.slot].sequence == id.sequence;
}

std::size_t TimerService::run_due() {
  assert(!running_ && "run_due() must not be called from a timer callback");
  running_ = true;
  const TimePoint now = clock_.now();
  const std::uint64_t first_new_sequence = next_sequence_;
  std::size_t fired = 0;
  while (!heap_.empty() && heap_.front().deadline <= now) {
    const Entry top = heap_.front();
    pop_top();
    if (!is_live(top)) continue;
    if (top.sequence >= first_new_sequence) {
      deferred_.push_back(top);
      continue;
    }
    Callback callback = release_slot(top.slot);
    ++fired;
    callback();
  }
  for (const Entry& entry : deferred_) {
    if (is_live(entry)) push_entry(entry);
  }
  deferred_.clear();
  drop_dead_top();
  running_ = false;
  return fired;
}

std::optional<TimePoint> TimerService::next_deadline() const {
  // Invariant: outside run_due() the top entry, if any, is live.
  if (heap_.empty()) return std::nullopt;
  return heap_.front().deadline;
}

void TimerService::push_entry(const Entry& entry) {
  heap_.push_back(entry);
  std::push_heap(heap_.begin(), heap_.end(), Later{});
}

void TimerService::pop_top() {
  std::pop_heap(heap_.begin(), heap_.end(), Later{});
  heap_.pop_back();
}

void TimerService::drop_dead_top() {
  while (!heap_.empty() && !is_live(heap_.front())) pop_top();
}

void TimerService::compact_if_sparse() {
  const std::size_t dead = heap_.size() - std::min(heap_.size(), live_);
  if (dead < kMinDeadEntriesToCompact || dead <= live_) return;
  std::erase_if(heap_, [this](const Entry& entry) { return !is_live(entry); });
  std::make_heap(heap_.begin(), heap_.end(), Later{});
}

TimerService::Callback TimerService::release_slot(std::uint32_t slot) {
  Callback callback = std::move(slots_[slot].callback);
  slots_[slot].callback = nullptr;
  slots_[slot].sequence = 0;
  free_slots_.push_back(slot);
  --live_;
  return callback;
}

std::size_t run_until(TimerService& service, ManualClock& clock, TimePoint until) {
  assert(&service.clock() == &clock);
  std::size_t fired = 0;
  for (auto next = service.next_deadline(); next && *next <= until;
       next = service.next_deadline()) {
    if (*next > clock.now()) clock.set(*next);
    fired += service.run_due();
  }
  if (until > clock.now()) clock.set(until);
  return fired;
}

}  // namespace herald::sip::txn
