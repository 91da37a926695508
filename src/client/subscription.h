#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/user_agent.h"

namespace herald::client {

// What one NOTIFY said (RFC 6665 §8.2.3).
struct Notification {
  std::string state;   // "active", "pending", "terminated"
  std::string reason;  // with terminated: "rejected", "timeout", "deactivated" …; else empty
  std::optional<std::uint32_t> expires;
  std::string content_type;  // empty without a body
  std::string body;
};

// One subscription of the UA to `resource`'s `event` state (RFC 6665 §4.1), with its
// dialog: established by the 2xx or by a NOTIFY that arrives first, refreshed before it
// expires, answered NOTIFY by NOTIFY. A subscription the notifier ends with reason
// deactivated or timeout (or probation, giveup: after Retry-After, else 10 s) is made again
// with a new SUBSCRIBE; rejected, noresource and unknown reasons end it.
//
// Lifetime: as Registration; stop() before destroying for an orderly end.
class Subscription {
 public:
  Subscription(UserAgent& ua, std::string resource, std::string event, std::vector<std::string> accept,
               std::uint32_t expires);
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;
  ~Subscription();

  // Subscribes; `done` gets the outcome of the initial SUBSCRIBE (after a 423 retry).
  void start(Completion done);
  // Every NOTIFY, after it is answered 200.
  void set_on_notify(std::function<void(const Notification&)> f) { on_notify_ = std::move(f); }
  // A refresh or a new SUBSCRIBE failed: the subscription is gone.
  void set_on_lost(Completion f) { on_lost_ = std::move(f); }
  // Ends the subscription (SUBSCRIBE with Expires: 0 in the dialog) and calls `done` when
  // the final NOTIFY came, the request failed, or after `wait` at most.
  void stop(std::function<void()> done, std::chrono::milliseconds wait = std::chrono::milliseconds(3000));

  const std::string& resource() const { return resource_; }
  bool established() const { return !leg_.remote_tag.empty(); }
  bool ended() const { return ended_; }

 private:
  // A SUBSCRIBE on the leg (initial or in the dialog) asking for expires_.
  sip::Message subscribe_request();
  void subscribe(bool retried, Completion done);
  void refresh();
  void schedule_refresh(std::uint32_t seconds);
  void again(std::chrono::seconds after);
  bool on_request(sip::txn::ServerTransactionId id, const sip::Message& request);
  void establish(const sip::Message& message, bool from_response);
  void finish_stop();

  UserAgent& ua_;
  std::string resource_;
  std::string event_;
  std::vector<std::string> accept_;
  std::uint32_t expires_;
  Leg leg_;
  std::uint64_t handler_ = 0;
  sip::txn::TimerId timer_;
  bool ended_ = false;
  bool stopping_ = false;
  std::function<void()> stopped_;
  std::function<void(const Notification&)> on_notify_;
  Completion on_lost_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace herald::client
