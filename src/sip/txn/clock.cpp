#include "sip/txn/clock.h"

#include <cassert>

namespace herald::sip::txn {

void ManualClock::advance(Duration by) {
  assert(by >= Duration::zero());
  now_ += by;
}

void ManualClock::set(TimePoint to) {
  assert(to >= now_);
  now_ = to;
}

}  // namespace herald::sip::txn
