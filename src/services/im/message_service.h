#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "services/proxy/proxy.h"
#include "services/registrar/location_service.h"
#include "sip/txn/timer_service.h"
#include "store/store.h"

namespace herald::services::im {

struct ImConfig {
  bool store = true;                           // store-and-forward on
  std::chrono::seconds expiry{7 * 86400};      // how long a stored message is kept
  std::uint32_t max_per_user = 100;            // stored messages per recipient
  std::chrono::seconds retry_interval{30};     // first retry after a failed delivery
  std::chrono::seconds max_retry_interval{3600};
  std::chrono::seconds sweep_interval{600};    // how often expired messages are removed
};

struct ImCounters {
  std::uint64_t stored = 0;     // MESSAGEs accepted with 202
  std::uint64_t delivered = 0;  // stored MESSAGEs a recipient took (2xx)
  std::uint64_t failed_deliveries = 0;
  std::uint64_t refused_full = 0;  // 486: the recipient's store was full
  std::uint64_t expired = 0;
};

// The IM relay's store-and-forward (RFC 3428 §7 leaves it to the server): a MESSAGE for a
// known user with no binding, or whose every device failed with 408, 480 or 5xx (not 513),
// is answered 202 Accepted and kept in the store; so is a MESSAGE for a user who still has
// stored ones waiting, so that it cannot overtake them. When the user registers, the stored
// messages are sent one at a time, in order, each a new MESSAGE with the original From, To,
// Date, Content-Type and body; a message is deleted after a 2xx only, and a failure is
// retried later with a doubling interval. Relaying itself is the proxy's.
//
// Threading: one per shard, on its thread. Lifetime: every reference must outlive it.
class MessageService final : public proxy::Hooks {
 public:
  using Clock = std::function<std::int64_t()>;  // unix seconds

  MessageService(ImConfig config, proxy::Proxy& proxy, registrar::LocationService& location,
                 store::MessageStore* store, sip::txn::TimerService& timers, Clock now,
                 proxy::Proxy::Responder responder);
  MessageService(const MessageService&) = delete;
  MessageService& operator=(const MessageService&) = delete;
  ~MessageService() override;

  // Reads which users have stored messages, starts delivery to those registered, and starts
  // the expiry sweep. Call once the transports are open.
  void start();

  bool on_forward(sip::txn::ServerTransactionId id, const sip::Message& request, const std::string& aor) override;
  bool on_unavailable(sip::txn::ServerTransactionId id, const sip::Message& request, const std::string& aor) override;
  bool on_failed(sip::txn::ServerTransactionId id, const sip::Message& request, const std::string& aor,
                 const proxy::Outcome& outcome) override;

  const ImCounters& counters() const { return counters_; }

 private:
  struct Delivery {
    bool in_flight = false;
    std::uint32_t failures = 0;  // in a row, for the backoff
    sip::txn::TimerId retry;
  };

  // Stores `request` for `aor` and answers it (202, 486 when full, 500 when the store fails).
  void store_and_answer(sip::txn::ServerTransactionId id, const sip::Message& request, const std::string& aor);
  void on_registered(const std::string& aor);
  void deliver_next(const std::string& aor);
  void on_delivered(const std::string& aor, std::int64_t message_id, std::uint32_t attempts, const sip::Message& final);
  void retry_later(const std::string& aor);
  void sweep();
  std::string new_call_id();

  ImConfig config_;
  proxy::Proxy& proxy_;
  registrar::LocationService& location_;
  store::MessageStore* store_;
  sip::txn::TimerService& timers_;
  Clock now_;
  proxy::Proxy::Responder responder_;
  std::unordered_set<std::string> pending_;  // recipients with stored messages
  std::unordered_map<std::string, Delivery> deliveries_;
  sip::txn::TimerId sweep_timer_;
  std::uint64_t call_ids_ = 0;
  std::uint64_t instance_;
  ImCounters counters_;
};

}  // namespace herald::services::im
