#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "services/events/notifier.h"
#include "services/presence/authorization.h"
#include "services/presence/pidf.h"
#include "services/presence/watcherinfo.h"
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
  // A PUBLISH body beyond this many bytes gets 413; beyond the depth or element count, 400.
  std::size_t max_document_bytes = 8192;
  PidfLimits document_limits;
  // Live publications a presentity may have (one per device, typically); a new one beyond
  // replaces the oldest. The composed document is at most about this many documents long.
  std::size_t max_publications = 8;
  // A SUBSCRIBE to a user that does not exist is answered as one to a user who is offline and
  // has set no rules (by the policy), instead of 404.
  bool hide_unknown_users = false;
  AuthorizationPolicy policy;
  std::chrono::milliseconds rules_poll{1000};  // how often the store's rules are checked
};

struct PresenceCounters {
  std::uint64_t publishes = 0;     // PUBLISH requests handled (any outcome)
  std::uint64_t publications = 0;  // live publications
  std::uint64_t expired = 0;       // publications that expired
  std::uint64_t rule_reloads = 0;  // times the rules were read again after a change
  std::uint64_t compositions = 0;  // documents composed for watchers: once per change and flavor, not per watcher
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
//    over max_document_bytes → 413 naming the limit; nested deeper or with more elements
//    than document_limits → 400 naming the limit; a body that does not parse (pidf.h) → 400
//    with its reason;
//  - otherwise 200 OK with a new SIP-ETag and Expires (Expires: 0 removes, 200 with
//    Expires: 0). A new publication beyond max_publications replaces the presentity's
//    oldest. Watchers are notified when the composed document changes.
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
                sip::txn::TimerService& timers, Clock now, sip::Network& network,
                UserExists user_exists);
  PresenceAgent(const PresenceAgent&) = delete;
  PresenceAgent& operator=(const PresenceAgent&) = delete;
  ~PresenceAgent();

  // Loads publications (dropping expired ones) and rules, starts the rules poll. Call
  // before Notifier::start().
  void start();
  // Before start(): only the presentities `owned` names are this agent's (the shard's).
  void own(sip::OwnedAor owned) { owned_ = std::move(owned); }

  // A PUBLISH whose Request-URI names a user in a served domain.
  void handle_publish(sip::txn::ServerTransactionId id, const sip::Message& request);

  // Whether `aor` is a presentity Herald serves: a user, or an AOR with bindings.
  bool knows(const std::string& aor) const;

  const PresenceCounters& counters() const { return counters_; }

 private:
  class PresencePackage;
  class WinfoPackage;

  // One live publication: the store's record (its etag is the key it is held under) and
  // the document parsed from its body at PUBLISH.
  struct Publication {
    store::Publication record;
    PresenceDocument document;
    sip::txn::TimerId expiry;
  };
  // The documents watchers of one presentity receive, composed on first use; an empty
  // string is one not composed yet. Indexed by PidfFlavor.
  struct Documents {
    std::array<std::string, 2> composed;
    std::array<std::string, 2> closed;  // for politely blocked watchers
  };
  // What one presence.winfo subscription has been sent and is owed.
  struct WinfoState {
    std::uint32_t version = 0;             // of its next document
    std::vector<WatcherEntry> ended;       // presence subscriptions ended since its last NOTIFY
  };

  void answer(sip::txn::ServerTransactionId id, const sip::Message& request, int code, std::string_view reason,
              const std::vector<std::pair<sip::HeaderId, std::string>>& extra = {});
  std::string new_etag();
  // The live publication `etag` of `presentity`, or null.
  Publication* find_publication(std::string_view etag, const std::string& presentity);
  // Adds a new publication, or gives `old` (refresh or modify) the new etag, expiry and,
  // when `document` is set, the new body.
  void publish(const sip::Message& request, const std::string& presentity, Publication* old,
               std::optional<PresenceDocument> document, std::int64_t expires_at, const std::string& etag);
  // Removes a live publication (its timer, the store's copy); `context` names the cause
  // for the log ("call-id=…"). `etag` is a copy: callers pass the record's own.
  void remove_publication(std::string etag, std::string_view context);
  void arm_expiry(Publication& publication);
  void expire(const std::string& etag);
  void changed(const std::string& presentity);  // the composed document changed: drop it, notify
  bool has_publications(const std::string& presentity) const;

  // The document of `presentity` for a watcher with `action` (allow or polite-block), in
  // `flavor`: composed once per change, then served from documents_.
  const std::string& document(const std::string& presentity, PidfFlavor flavor, Action action);
  std::string compose_current(const std::string& presentity, PidfFlavor flavor) const;
  void on_registration(const std::string& aor);
  void poll_rules();
  void load_publications();
  void load_rules();

  // For the packages.
  std::optional<events::Refusal> admit_presence(const events::Subscription& s) const;
  std::optional<events::Body> presence_body(const events::Subscription& s);
  void presence_changed(const events::Subscription& s, std::optional<events::Reason> ended);
  std::optional<events::Refusal> admit_winfo(const events::Subscription& s) const;
  std::optional<events::Body> winfo_body(const events::Subscription& s);
  void winfo_changed(const events::Subscription& s, std::optional<events::Reason> ended);

  PresenceConfig config_;
  events::Notifier& notifier_;
  registrar::LocationService& location_;
  store::PublicationStore* publication_store_;
  store::PresenceRuleStore* rule_store_;
  sip::txn::TimerService& timers_;
  Clock now_;
  sip::Network& network_;  // answers requests
  sip::OwnedAor owned_;    // empty: every presentity
  UserExists user_exists_;
  Authorization authorization_;
  std::unique_ptr<PresencePackage> presence_package_;
  std::unique_ptr<WinfoPackage> winfo_package_;

  std::unordered_map<std::string, Publication> publications_;  // by etag
  // presentity → (sequence, etag) of each of its publications, oldest first.
  std::unordered_map<std::string, std::set<std::pair<std::int64_t, std::string>>> by_presentity_;
  std::int64_t next_sequence_ = 1;
  std::unordered_map<std::string, Documents> documents_;  // by presentity
  std::unordered_map<std::string, WinfoState> winfo_;     // by winfo subscription key
  // Presence subscriptions that have been pending: once active, watcher info says they were
  // "approved" (RFC 3857 §3.2.4); one active from the start was created by "subscribe".
  std::unordered_set<std::string> were_pending_;

  std::random_device random_;  // entity-tags are unguessable: if RAND_bytes ever fails
  std::uint64_t etag_count_ = 0;
  std::optional<std::int64_t> rules_generation_;  // of the rules in authorization_; none: not read
  sip::txn::TimerId rules_timer_;
  PresenceCounters counters_;
};

}  // namespace herald::services::presence
