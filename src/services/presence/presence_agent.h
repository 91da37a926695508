#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "services/events/notifier.h"
#include "services/presence/authorization.h"
#include "services/presence/pidf.h"
#include "services/registrar/location_service.h"
#include "sip/msg/message.h"
#include "sip/txn/timer_service.h"
#include "store/store.h"

namespace herald::services::presence {

struct PresenceConfig {
  std::chrono::seconds publish_min_expires{60};        // below: 423 with Min-Expires
  std::chrono::seconds publish_max_expires{3600};      // above: shortened
  std::chrono::seconds publish_default_expires{3600};  // no Expires (RFC 3903 §5 leaves it to the ESC)
  bool registration_state = true;  // no publication: open while registered, else closed
  AuthorizationPolicy policy;
  std::chrono::milliseconds rules_poll{1000};  // how often the store's rules are checked
};

struct PresenceCounters {
  std::uint64_t publishes = 0;     // PUBLISH requests handled (any outcome)
  std::uint64_t publications = 0;  // live publications
  std::uint64_t expired = 0;       // publications that expired
  std::uint64_t rule_reloads = 0;  // times the rules were read again after a change
};

// The presence agent (RFC 3856) and event state compositor (RFC 3903) of one shard:
//  - PUBLISH for a local presentity (initial, refresh, modify, remove) with SIP-ETag;
//  - the "presence" package: one composed PIDF document per presentity for its watchers,
//    from its live publications or, with none, from its registrations; authorization by
//    rules (allow, block, polite-block, confirm) re-read from the store when they change;
//  - the "presence.winfo" package (RFC 3857): the presentity's own watcher list.
// Both packages are added to the notifier by the constructor.
//
// PUBLISH answers (RFC 3903 §6, in this order):
//  - Event other than presence → 489 Bad Event with Allow-Events: presence;
//  - presentity not a known user → 404 Not Found; From not the presentity → 403;
//  - Expires below the minimum (not 0) → 423 with Min-Expires; above the maximum: shortened;
//  - SIP-If-Match naming no live publication of this presentity → 412 Conditional Request
//    Failed;
//  - no SIP-If-Match and no body → 400; a body of another type → 415 with Accept; a body
//    that does not parse (pidf.h) → 400 with its reason;
//  - otherwise 200 OK with a new SIP-ETag and Expires (Expires: 0 removes, 200 with
//    Expires: 0). Watchers are notified when the composed document changes.
//
// Threading: one per shard, on its thread. Lifetime: every reference must outlive it.
class PresenceAgent {
 public:
  using Clock = std::function<std::int64_t()>;  // unix seconds
  // Whether `aor` is a user of this server (has an account; bindings are checked apart).
  using UserExists = std::function<bool(const std::string& aor)>;

  // The stores may be null (nothing persisted, no rules but the policy).
  PresenceAgent(PresenceConfig config, events::Notifier& notifier, registrar::LocationService& location,
                store::PublicationStore* publications, store::PresenceRuleStore* rules,
                sip::txn::TimerService& timers, Clock now, events::Notifier::Responder responder,
                UserExists user_exists);
  PresenceAgent(const PresenceAgent&) = delete;
  PresenceAgent& operator=(const PresenceAgent&) = delete;
  ~PresenceAgent();

  // Loads publications (dropping expired ones) and rules, starts the rules poll. Call
  // before Notifier::start().
  void start();

  // A PUBLISH whose Request-URI names a user in a served domain.
  void handle_publish(sip::txn::ServerTransactionId id, const sip::Message& request);

  // Whether `aor` is a presentity Herald serves: a user, or an AOR with bindings.
  bool knows(const std::string& aor) const;

  const PresenceCounters& counters() const { return counters_; }

 private:
  // … implementation-defined …
  PresenceCounters counters_;
};

}  // namespace herald::services::presence
