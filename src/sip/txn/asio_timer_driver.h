#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <optional>

#include "sip/txn/timer_service.h"

namespace herald::sip::txn {

// Runs a TimerService on a boost::asio::io_context with a single steady_timer, always armed
// for the service's next_deadline(). Installs itself as the service's wakeup hook, so a
// timer scheduled earlier than the current one re-arms the steady_timer at once.
//
// Contract: the service's clock must read std::chrono::steady_clock (SteadyClock), because
// the steady_timer waits on that clock. The io_context must be the shard's own, run on the
// shard's thread; the driver, like the service, is used only from that thread.
// Lifetime: the service and the io_context must outlive the driver. Destroying the driver
// clears the wakeup hook and cancels the wait; completion handlers still queued in the
// io_context afterwards find the driver gone and do nothing.
class AsioTimerDriver {
 public:
  AsioTimerDriver(boost::asio::io_context& io, TimerService& service);
  AsioTimerDriver(const AsioTimerDriver&) = delete;
  AsioTimerDriver& operator=(const AsioTimerDriver&) = delete;
  ~AsioTimerDriver();

  // Deadline the steady_timer is currently waiting for, if any (observability and tests).
  std::optional<TimePoint> armed_deadline() const { return armed_; }

 private:
  void on_wakeup(TimePoint deadline);
  void arm(TimePoint deadline);
  void on_expiry();

  TimerService& service_;
  boost::asio::steady_timer timer_;
  std::optional<TimePoint> armed_;
  // Completion handlers hold a weak_ptr to this token and run only while it is alive.
  std::shared_ptr<AsioTimerDriver*> alive_;
};

}  // namespace herald::sip::txn
