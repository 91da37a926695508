#include "sip/txn/asio_timer_driver.h"

#include <boost/system/error_code.hpp>

namespace herald::sip::txn {

AsioTimerDriver::AsioTimerDriver(boost::asio::io_context& io, TimerService& service)
    : service_(service), timer_(io), alive_(std::make_shared<AsioTimerDriver*>(this)) {
  service_.set_wakeup_hook([this](TimePoint deadline) { on_wakeup(deadline); });
  if (auto next = service_.next_deadline()) arm(*next);
}

// timer_'s own destructor cancels the pending wait (without throwing, unlike cancel()); the
// aborted handler, and any success handler already queued, find alive_ gone.
AsioTimerDriver::~AsioTimerDriver() {
  service_.set_wakeup_hook(nullptr);
  alive_.reset();
}

void AsioTimerDriver::on_wakeup(TimePoint deadline) {
  if (!armed_ || deadline < *armed_) arm(deadline);
}

void AsioTimerDriver::arm(TimePoint deadline) {
  armed_ = deadline;
  // expires_at() cancels a wait already pending; its handler sees operation_aborted.
  timer_.expires_at(deadline);
  timer_.async_wait([weak = std::weak_ptr<AsioTimerDriver*>(alive_)](
                        const boost::system::error_code& error) {
    if (error) return;  // aborted by a re-arm or by destruction
    if (auto self = weak.lock()) (*self)->on_expiry();
  });
}

void AsioTimerDriver::on_expiry() {
  armed_.reset();
  service_.run_due();
  // Callbacks may already have re-armed through the wakeup hook; arm() again only if the
  // earliest deadline is not the one being waited for.
  if (auto next = service_.next_deadline(); next && (!armed_ || *next < *armed_)) arm(*next);
}

}  // namespace herald::sip::txn
