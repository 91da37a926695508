#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "services/proxy/proxy.h"
#include "sip/stack/owner.h"
#include "sip/msg/message.h"
#include "sip/transport/resolver.h"
#include "sip/transport/source_limits.h"
#include "sip/transport/transport_user.h"
#include "sip/txn/timer_service.h"
#include "sip/txn/transaction_layer.h"
#include "store/store.h"

// The SIP-specific event notification framework (RFC 6665), notifier side: subscription
// dialogs, their expiry, and the NOTIFYs that carry an event package's state. Packages
// (presence, presence.winfo, …) plug in through Package; the framework knows no body format.
namespace herald::services::events {

enum class State : std::uint8_t { kPending, kActive, kTerminated };

// Subscription-State reasons (RFC 6665 §8.2.3; RFC 3857 §3.2.4 reuses them as winfo events).
enum class Reason : std::uint8_t { kDeactivated, kProbation, kRejected, kTimeout, kGiveup, kNoresource };

std::string_view to_string(State state);    // "pending", "active", "terminated"
std::string_view to_string(Reason reason);  // "deactivated", "probation", "rejected", "timeout", "giveup", "noresource"

// One subscription: its dialog (RFC 3261 §12, the notifier being the UAS) and its state.
struct Subscription {
  std::string key;       // call-id, Herald's tag, the subscriber's tag, package and event id
  std::string package;   // the Event package, "presence"
  std::string event_id;  // Event ;id= (RFC 6665 §8.2.1); empty when absent
  std::string resource;  // the AOR subscribed to (Request-URI of the initial SUBSCRIBE)
  std::string watcher;   // the subscriber's AOR (From URI, RFC 3261 §10.3 normalisation)
  std::string watcher_display;         // From display name, may be empty
  std::string call_id;
  std::string local_tag;               // Herald's (To tag of the 200)
  std::string remote_tag;              // the subscriber's (From tag)
  std::string local_uri;               // To URI of the SUBSCRIBE: From of each NOTIFY
  std::string remote_uri;              // From URI of the SUBSCRIBE: To of each NOTIFY
  std::string remote_target;           // Contact URI of the last SUBSCRIBE: NOTIFY Request-URI
  std::vector<std::string> route_set;  // Record-Route URIs in order: NOTIFY Route
  std::string flow;                    // "tcp:addr:port" of the connection it came on; else empty
  std::string content_type;            // negotiated from Accept among the package's types
  std::uint32_t remote_cseq = 0;       // CSeq of the last SUBSCRIBE
  std::uint32_t local_cseq = 0;        // CSeq of the last NOTIFY sent (0: none yet)
  std::int64_t expires_at = 0;         // unix seconds
  State state = State::kPending;
};

// A NOTIFY body.
struct Body {
  std::string content_type;
  std::string text;
};

// Refusal of a new subscription: the response Herald sends instead of 200.
struct Refusal {
  int code = 0;  // e.g. 404, 403
  std::string reason;
  std::vector<std::pair<sip::HeaderId, std::string>> headers;
};

// An event package (RFC 6665 §7). Every call is on the shard thread; a package may call
// back into the Notifier from any of them except admit().
class Package {
 public:
  virtual ~Package() = default;
  // The Event package name, "presence" (lower case, compared case-insensitively).
  virtual std::string_view name() const = 0;
  // The body types the package can send, preferred first: the first is used when the
  // SUBSCRIBE has no Accept (RFC 6665 §7.2: the package's default).
  virtual std::vector<std::string> content_types() const = 0;
  // A new subscription (`s` filled from the SUBSCRIBE, state not yet decided): nullopt to
  // accept it, or the refusal (404 for an unknown resource, 403 for a forbidden watcher).
  virtual std::optional<Refusal> admit(const sip::Message& subscribe, const Subscription& s) = 0;
  // Authorization (RFC 6665 §4.2.1.1): kActive, kPending (waiting for a decision) or
  // kTerminated (rejected). Asked for new subscriptions and by Notifier::reauthorize().
  virtual State authorize(const Subscription& s) = 0;
  // The body of the next NOTIFY to `s` (its state is active or terminated; pending ones get
  // no body): the resource's current state in `s.content_type`. nullopt for no body.
  virtual std::optional<Body> body_for(const Subscription& s) = 0;
  // `s` was created, changed state, or (with `ended`) is about to be removed.
  // Created: after its first NOTIFY went out; also for each subscription Notifier::start()
  // restores. Ended: `s` is out of the notifier's lists already (state terminated), and its
  // final NOTIFY, if any, follows. A fetch, a rejected new subscription, or one whose first
  // NOTIFY fails at once is only reported as ended. Reasons: kTimeout (expired, unsubscribed,
  // or a fetch), kRejected (authorization), kGiveup (a NOTIFY timed out or failed in
  // transport), kDeactivated (a NOTIFY answered 481: the subscriber holds it no more).
  virtual void on_change(const Subscription& s, std::optional<Reason> ended) = 0;
};

struct NotifierConfig {
  std::chrono::seconds min_expires{60};       // below: 423 with Min-Expires
  std::chrono::seconds max_expires{3600};     // above: shortened to this
  std::chrono::seconds default_expires{3600};  // no Expires header (RFC 3856 §6.4: 3600)
  // Limits on what others can make Herald keep (new subscriptions beyond one get 503 with
  // Retry-After and a reason naming it): live subscriptions to one resource, of one watcher
  // AOR, made from one source (SourceKey; `trusted` sources have no such limit), and pending
  // ones to one resource. A pending subscription is granted at most pending_expires.
  std::size_t max_per_resource = 1000;
  std::size_t max_per_watcher = 200;
  std::size_t max_per_source = 1000;
  std::size_t max_pending_per_resource = 100;
  std::chrono::seconds pending_expires{600};
  std::vector<sip::transport::Subnet> trusted;
  // A destination (an address) that has not answered any NOTIFY yet gets at most this many
  // at a time: the rest wait for its first answer. One whose NOTIFY went unanswered (timeout,
  // transport failure) is left alone for unresponsive_for: its waiting and new subscriptions
  // end (giveup) without a NOTIFY. So a SUBSCRIBE naming someone else's Contact costs that
  // someone one NOTIFY's retransmissions, not one per SUBSCRIBE. Trusted addresses are exempt.
  std::size_t max_unanswered_per_destination = 2;
  std::chrono::seconds unresponsive_for{600};
};

struct NotifierCounters {
  std::uint64_t subscribes = 0;          // SUBSCRIBE requests handled (any outcome)
  std::uint64_t created = 0;             // subscriptions created
  std::uint64_t terminated = 0;          // subscriptions ended (any reason)
  std::uint64_t notifies_sent = 0;       // NOTIFY transactions started
  std::uint64_t notifies_failed = 0;     // NOTIFYs answered >= 300, timed out or not sent
  std::uint64_t notifies_superseded = 0;  // states replaced by a newer one before being sent
  std::uint64_t refused_limit = 0;        // new subscriptions refused by a limit (503)
  std::uint64_t notifies_held = 0;        // NOTIFYs that waited for their destination's first answer
  std::uint64_t unresponsive_ended = 0;   // subscriptions ended unsent: their destination never answers
  std::uint64_t notifies_over_tcp = 0;    // NOTIFYs too large for UDP sent over TCP (RFC 3261 §18.1.1)
};

// The notifier of one shard. It answers SUBSCRIBE (new, refresh, fetch with Expires: 0,
// unsubscribe), keeps each subscription's dialog, sends the NOTIFYs, ends subscriptions on
// expiry or when their NOTIFY fails, and persists the dialogs so that they survive a
// restart.
//
// SUBSCRIBE answers:
//  - no Event, or a package no one serves → 489 Bad Event with Allow-Events;
//  - Expires below min_expires (and not 0) → 423 Interval Too Brief with Min-Expires;
//    above max_expires → shortened; absent → default_expires;
//  - Accept naming none of the package's types → 406 Not Acceptable with Accept;
//  - To with a tag that names no subscription → 481 Subscription Does Not Exist;
//  - a CSeq not above the dialog's last → 500 "CSeq out of order" (RFC 3261 §12.2.2);
//  - the package's Refusal;
//  - otherwise 200 OK with To tag, Expires (granted) and Contact, then at once a NOTIFY
//    with the current state (RFC 6665 §4.2.1.2): Subscription-State active;expires=N with
//    the package's body, pending;expires=N with no body, or terminated;reason=rejected.
//    Expires: 0 ends the subscription: its NOTIFY says terminated;reason=timeout.
//
// NOTIFY: in the dialog (From Herald's tag, To the subscriber's, the Call-ID, CSeq one
// above the last, Route from the route set, Contact Herald's), with Event (and id),
// Subscription-State, Max-Forwards 70 and the body. Sent over the subscription's TCP
// connection while it is open and the route set is empty, else to the first Route or the
// remote target (resolver.h). A NOTIFY over 1300 bytes bound for UDP goes over TCP to the
// same address instead (RFC 3261 §18.1.1), and over UDP after all when the TCP connection is
// refused or reset; one that fits neither ends the subscription (giveup) with a warn line. At most one NOTIFY per subscription is outstanding; state
// changes meanwhile are coalesced, and the newest state is sent once the previous NOTIFY
// is answered. A NOTIFY answered 481, or timed out (408), or failing in transport, ends
// the subscription without another NOTIFY; other failures keep it. A subscription that ends
// while its NOTIFY is out leaves the lists at once; its final NOTIFY follows the answer.
//
// Persistence (`store` non-null): each subscription is written when created, refreshed,
// retargeted or changing state, and removed when it ends. NOTIFY CSeq numbers are reserved in
// blocks (SubscriptionRecord::local_cseq is the ceiling), so after a restart they go on above
// every number used before. A failing store call is logged; the SIP answer stays the same.
//
// Threading: one per shard, on its thread. Lifetime: every reference must outlive it.
class Notifier {
 public:
  using Clock = std::function<std::int64_t()>;  // unix seconds
  // `store` may be null (nothing persisted).
  Notifier(NotifierConfig config, sip::txn::TransactionLayer& layer, sip::txn::TimerService& timers,
           sip::Network& network, sip::transport::HostsFile hosts, store::SubscriptionStore* store, Clock now);
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;
  ~Notifier();

  // Adds a package (before start()); it must outlive the notifier.
  void add_package(Package& package);
  // The served package names, in the order added (for Allow-Events).
  std::vector<std::string> events() const;
  // The package `request`'s Event header names, or null (no Event, malformed, unknown).
  Package* package_of(const sip::Message& request) const;
  // Whether a SUBSCRIBE with a To tag belongs to one of Herald's subscriptions (by Call-ID,
  // tags, package and id).
  bool has_dialog(const sip::Message& subscribe) const;

  // Loads the stored subscriptions, arms their expiry (ending those already expired with
  // a final NOTIFY), after every package is added and the transports are open. Records of
  // packages not added are removed from the store. Each restored subscription is reported
  // to its package (on_change, not ended); no NOTIFY is sent for the live ones.
  void start();
  // Before start(): only the subscriptions to resources `owned` names are this notifier's (the
  // shard's); the other shards restore the rest.
  void own(sip::OwnedAor owned) { owned_ = std::move(owned); }
  // Reserves `buckets` in the subscription tables, at 4 subscriptions a bucket, so that they
  // do not rehash all at once (holding the loop) below 4 x buckets subscriptions.
  void presize(std::size_t buckets);

  // A package refused a new subscription with 404 (its resource does not exist): `source`
  // probed for users. For the failure throttle.
  void set_unknown_resource_reporter(std::function<void(const sip::transport::Source&)> report) {
    unknown_resource_ = std::move(report);
  }

  // A SUBSCRIBE for a served package (initial, or in one of Herald's dialogs), or one with
  // no or an unknown Event that Herald must answer (489).
  void handle_subscribe(sip::txn::ServerTransactionId id, const sip::Message& request,
                        const sip::transport::Source& source);

  // ---- for packages
  // The state of `resource` changed: every active subscription of `package` to it gets a
  // NOTIFY with the new body (pending ones get nothing).
  void notify(std::string_view package, std::string_view resource);
  // Authorization for `resource` changed: asks the package again for each of its
  // subscriptions and applies the transitions (pending → active: NOTIFY with the state;
  // → terminated: final NOTIFY reason=rejected (from pending or active); active → pending:
  // NOTIFY pending, no body).
  void reauthorize(std::string_view package, std::string_view resource);
  // The live subscriptions of `package` to `resource` (any state but terminated), oldest
  // first. Pointers stay valid until the next call into the notifier.
  std::vector<const Subscription*> subscriptions(std::string_view package, std::string_view resource) const;
  // How many live subscriptions `package` has to `resource`, in O(1) (no list is built).
  std::size_t count(std::string_view package, std::string_view resource) const;
  // Every resource of `package` with at least one live subscription.
  std::vector<std::string> resources(std::string_view package) const;

  const NotifierCounters& counters() const { return counters_; }
  std::size_t size() const;  // live subscriptions

 private:
  struct Entry;
  struct Watchers;
  struct PackageSlot;
  // Transparent hashing, so that maps keyed by std::string are searched with a string_view.
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  // How a NOTIFY transaction ended.
  enum class Outcome : std::uint8_t { kAnswered, kTimedOut, kTransportFailed };
  // What the notifier knows of one NOTIFY destination (an address: SourceKey) while NOTIFYs
  // to it are out, or while it counts as unresponsive.
  struct Recipient {
    std::uint32_t in_flight = 0;              // NOTIFYs out to it now
    bool answered = false;                    // it has answered one since it was first seen
    std::int64_t unresponsive_until = 0;      // unix seconds
    std::vector<std::uint64_t> waiting;       // entries whose NOTIFY waits for its first answer
  };

  PackageSlot* slot_named(std::string_view name) const;
  Watchers* watchers_of(std::string_view package, std::string_view resource) const;
  // Calls f(Entry&) for each live subscription of `watchers`, oldest first. `f` may end
  // subscriptions and call back into the notifier: removals only blank their slots meanwhile.
  template <class F>
  void walk(Watchers& watchers, F&& f);
  void add_to_index(Entry& e);
  void remove_from_index(Entry& e);
  // Compacts or erases `watchers` (of e.g. `resource`) once no walk is using it.
  void tidy(PackageSlot& slot, Watchers& watchers, const std::string& resource);

  void handle_in_dialog(sip::txn::ServerTransactionId id, const sip::Message& request,
                        const sip::transport::Source& source, Entry& e, std::uint32_t granted);
  void handle_initial(sip::txn::ServerTransactionId id, const sip::Message& request,
                      const sip::transport::Source& source, PackageSlot& slot, std::string_view event_id,
                      std::uint32_t granted);
  void answer_ok(sip::txn::ServerTransactionId id, const sip::Message& request, const Subscription& s,
                 std::uint32_t granted);

  // The state of `e` changed: a NOTIFY now, or after the outstanding one is answered.
  void changed(Entry& e);
  // Sends `e`'s current state; a NOTIFY that cannot be sent ends the subscription.
  void send_current(Entry& e);
  // Sends the NOTIFY `e` is due (the final one once `e` has ended). False when none could be
  // started (no route to the subscriber); `e` is then untouched. After a true return `e` may
  // already be gone (a send that fails at once is reported before the call returns).
  bool send_notify(Entry& e);
  // `refused`: a transport failure of a TCP connection refused or reset.
  void on_notify_done(std::uint64_t entry_id, Outcome outcome, int code, bool refused = false);
  // Ends a live subscription: out of the indices and the store at once, the package told, then
  // the final NOTIFY (when `final_notify`) now or after the outstanding one.
  void end(Entry& e, Reason reason, bool final_notify);
  // Sends the pending final NOTIFY of an ended entry, or destroys it.
  void finish(Entry& e);
  void apply_authorization(Entry& e, State next);
  void arm_expiry(Entry& e);
  void on_expiry(std::uint64_t entry_id);
  Entry* live_entry(std::uint64_t entry_id) const;

  void persist(const Entry& e);
  void unpersist(const Entry& e);

  // ---- limits (notifier_limits.cpp)
  // The reason for a 503 when a new subscription `s` from `source` would exceed a limit.
  std::optional<std::string_view> over_limit(const Subscription& s, const PackageSlot& slot,
                                             const sip::transport::Source& source) const;
  // Counts `e` against its watcher and source (when created from one), and undoes it.
  void count(Entry& e, int delta);
  // Whether `e`'s NOTIFY to `to` may go now. When not, it waits (true: see held()) or its
  // destination is unresponsive (false). Not for trusted addresses.
  enum class Admission : std::uint8_t { kGo, kHeld, kUnresponsive };
  Admission admit_notify(Entry& e, const sip::transport::Destination& to);
  // A NOTIFY to destination `key` ended with `outcome`: the destination answered, or proved
  // unresponsive; NOTIFYs waiting for it go, or their subscriptions end.
  void notify_ended(const sip::transport::SourceKey& key, Outcome outcome);
  // A NOTIFY counted against destination `key` ended without telling anything about it.
  void forget_in_flight(const sip::transport::SourceKey& key);
  bool trusted(const boost::asio::ip::address& address) const;
  std::string contact_value(bool tcp) const;

  NotifierConfig config_;
  sip::txn::TransactionLayer& layer_;
  sip::txn::TimerService& timers_;
  sip::Network& network_;
  sip::OwnedAor owned_;  // empty: every resource
  sip::transport::HostsFile hosts_;
  store::SubscriptionStore* store_;
  Clock now_;
  std::vector<std::unique_ptr<PackageSlot>> packages_;  // in the order added
  std::string allow_events_;                            // their names, joined for Allow-Events
  // Every subscription with an id: live ones, and ended ones whose NOTIFY is still out.
  std::unordered_map<std::uint64_t, std::unique_ptr<Entry>> entries_;
  // Live subscriptions by key (a view of Entry::s.key).
  std::unordered_map<std::string_view, Entry*> by_key_;
  std::uint64_t next_id_ = 1;
  std::mt19937_64 random_;
  NotifierCounters counters_;
  std::function<void(const sip::transport::Source&)> unknown_resource_;
  std::unordered_map<std::string, std::size_t> per_watcher_;  // live subscriptions by watcher AOR
  std::unordered_map<sip::transport::SourceKey, std::size_t, sip::transport::SourceKeyHash> per_source_;
  std::unordered_map<sip::transport::SourceKey, Recipient, sip::transport::SourceKeyHash> destinations_;
  // Past this many destinations, those that owe nothing are forgotten (then it doubles, up to
  // the table's limit, where one sweep a second at most is made).
  static constexpr std::size_t kSweepAt = 4096;
  std::size_t sweep_at_ = kSweepAt;
  std::int64_t swept_ = 0;  // when the table was last swept
};

}  // namespace herald::services::events
