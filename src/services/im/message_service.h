#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
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
  // Who may leave messages for later: everyone, or only senders in the served domains (whose
  // From the server core has authenticated).
  bool store_from_anyone = true;
  std::uint32_t max_per_sender = 20;    // stored messages from one sender AOR, per recipient
  std::uint32_t max_from_outside = 50;  // from senders outside the served domains, per recipient
  std::vector<std::string> domains;     // the served domains (lower case)
  std::chrono::seconds answer_within{10};  // the proxy's (ProxyConfig::answer_within), for logs
};

struct ImCounters {
  std::uint64_t stored = 0;     // MESSAGEs accepted with 202
  std::uint64_t delivered = 0;  // stored MESSAGEs a recipient took (2xx)
  std::uint64_t failed_deliveries = 0;
  std::uint64_t refused_full = 0;    // 486: the recipient's store was full
  std::uint64_t refused_quota = 0;   // 486: the sender's share of the recipient's store was full
  std::uint64_t expired = 0;
  std::uint64_t late_deliveries = 0;  // answered 202 before a device took it after all
  std::uint64_t discarded = 0;        // for users that do not exist (hide_unknown_users)
};

// The IM relay's store-and-forward (RFC 3428 §7 leaves it to the server): a MESSAGE for a
// known user with no binding, or whose every device failed with 408, 480 or 5xx (not 513),
// is answered 202 Accepted and kept in the store; so is a MESSAGE for a user who still has
// stored ones waiting, so that it cannot overtake them, and one no device has answered within
// the proxy's answer_within (stored, 202, and removed again if a device takes it after all),
// so that the sender hears before its Timer F. When the user registers, the stored
// messages are sent one at a time, in order, each a new MESSAGE with the original From, To,
// Date, Content-Type and body; a message is deleted after a 2xx only, and a failure is
// retried later with a doubling interval. Relaying itself is the proxy's.
//
// Quotas (answered 486 Busy Here, with a reason that names the quota): max_per_user messages
// a recipient; max_per_sender from one sender AOR; max_from_outside from senders outside the
// served domains together, so that strangers cannot fill a mailbox. With store_from_anyone
// false, a stranger's MESSAGE is not stored at all (480, as without a store).
//
// Threading: one per shard, on its thread. Lifetime: every reference must outlive it.
class MessageService final : public proxy::Hooks {
 public:
  using Clock = std::function<std::int64_t()>;  // unix seconds

  MessageService(ImConfig config, proxy::Proxy& proxy, registrar::LocationService& location,
                 store::MessageStore* store, sip::txn::TimerService& timers, Clock now,
                 sip::Network& network);
  MessageService(const MessageService&) = delete;
  MessageService& operator=(const MessageService&) = delete;
  ~MessageService() override;

  // Reads which users have stored messages, starts delivery to those registered, and starts
  // the expiry sweep. Call once the transports are open.
  void start();
  // Before start(): only the recipients `owned` names are this service's (the shard's).
  void own(sip::OwnedAor owned) { owned_ = std::move(owned); }

  bool on_forward(sip::txn::ServerTransactionId id, const sip::Message& request, const std::string& aor) override;
  bool on_unavailable(sip::txn::ServerTransactionId id, const sip::Message& request, const std::string& aor,
                      bool exists) override;
  bool on_failed(sip::txn::ServerTransactionId id, const sip::Message& request, const std::string& aor,
                 const proxy::Outcome& outcome) override;
  std::uint64_t on_slow(sip::txn::ServerTransactionId id, const sip::Message& request,
                        const std::string& aor) override;
  void on_slow_done(std::uint64_t ticket, bool delivered) override;

  const ImCounters& counters() const { return counters_; }

 private:
  struct Delivery {
    bool in_flight = false;
    std::uint32_t failures = 0;  // in a row, for the backoff
    sip::txn::TimerId retry;
    std::uint32_t forks = 0;     // answered early (on_slow) while their branches still run
  };
  // What a recipient's stored messages count against the quotas: read from the store on
  // first use, kept up to date after.
  struct Mailbox {
    std::uint32_t total = 0;
    std::uint32_t from_outside = 0;
    std::unordered_map<std::string, std::uint32_t> by_sender;  // sender AOR → messages
    std::unordered_map<std::int64_t, std::string> sender_of;   // message id → sender AOR
  };

  // Stores `request` for `aor` and answers it (202, 486 when full, 500 when the store fails).
  // Returns the stored message's id, 0 when it was not stored.
  std::int64_t store_and_answer(sip::txn::ServerTransactionId id, const sip::Message& request,
                                const std::string& aor);
  bool is_local(std::string_view sender_aor) const;
  // Whether `request` is a MESSAGE this service may store (store on, and store_from allows its
  // sender).
  bool may_store(const sip::Message& request) const;
  // The reason for a 486 when a message from `sender` would exceed one of `box`'s quotas.
  std::optional<std::string_view> refusal(const Mailbox& box, const std::string& sender) const;
  // The mailbox of `aor`, loaded from the store when not yet; null when the store fails.
  Mailbox* mailbox(const std::string& aor);
  void forget_stored(const std::string& aor, std::int64_t message_id);
  void on_registered(const std::string& aor);
  void deliver_next(const std::string& aor);
  void on_delivered(const std::string& aor, std::int64_t message_id, std::uint32_t attempts, const sip::Message& final);
  void retry_later(const std::string& aor);
  void sweep();
  std::string new_call_id();

  ImConfig config_;  // answer_within is the proxy's, here for the log
  proxy::Proxy& proxy_;
  registrar::LocationService& location_;
  store::MessageStore* store_;
  sip::txn::TimerService& timers_;
  Clock now_;
  sip::Network& network_;  // answers requests
  sip::OwnedAor owned_;    // empty: every recipient
  std::unordered_set<std::string> pending_;  // recipients with stored messages
  std::unordered_map<std::string, Delivery> deliveries_;
  std::unordered_map<std::string, Mailbox> mailboxes_;
  std::unordered_map<std::uint64_t, std::string> slow_;  // on_slow tickets (message ids) → recipient
  sip::txn::TimerId sweep_timer_;
  std::uint64_t call_ids_ = 0;
  std::uint64_t instance_;
  ImCounters counters_;
};

}  // namespace herald::services::im
