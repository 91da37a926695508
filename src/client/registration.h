#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "client/user_agent.h"

namespace herald::client {

// The time before a binding, publication or subscription of `granted` seconds expires at
// which to refresh it: 32 s early for long ones (time for Timer F's retransmissions), half
// way for short ones.
std::chrono::seconds refresh_delay(std::uint32_t granted);

// The expiry to ask for again after `o`, the answer to a request that asked for `asked`
// seconds: the Min-Expires of a 423 Interval Too Brief (RFC 3261 §10.2.8, RFC 3903 §6,
// RFC 6665 §4.2.1.1) when it is longer and the request was not already such a retry.
std::optional<std::uint32_t> retry_expiry(const Outcome& o, std::uint32_t asked, bool retried);

// One registration of the UA's contact for its AOR (RFC 3261 §10.2), refreshed before it
// expires. 423 Interval Too Brief is answered once with the registrar's Min-Expires.
//
// Lifetime: must outlive the requests it sent or be stopped first; its callbacks hold only
// a weak token (a destroyed Registration ignores late answers).
class Registration {
 public:
  Registration(UserAgent& ua, std::uint32_t expires);
  Registration(const Registration&) = delete;
  Registration& operator=(const Registration&) = delete;
  ~Registration();

  // Registers; `done` gets the outcome of the first REGISTER (after a 423 retry). Once it
  // succeeded, refreshes run by themselves; a refresh that fails goes to `on_lost`.
  void start(Completion done);
  void set_on_lost(Completion on_lost) { on_lost_ = std::move(on_lost); }
  // Removes the binding (Expires: 0 for this contact); `done` gets that REGISTER's outcome.
  void stop(Completion done);

  bool registered() const { return registered_; }
  std::uint32_t granted() const { return granted_; }  // seconds, from the last 2xx
  const std::string& contact() const { return contact_; }

 private:
  void send(std::uint32_t expires, bool retried, Completion done);
  void schedule_refresh();
  std::uint32_t granted_from(const sip::Message& response, std::uint32_t asked) const;

  UserAgent& ua_;
  std::uint32_t expires_;
  Leg leg_;
  std::string contact_;
  bool registered_ = false;
  std::uint32_t granted_ = 0;
  sip::txn::TimerId refresh_;
  Completion on_lost_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace herald::client
