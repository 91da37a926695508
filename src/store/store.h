#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "store/status.h"

namespace herald::store {

// Threading and latency contract, shared by every interface in this file:
//  - A Store object is used from one thread at a time (it holds one database connection or
//    one client). Give each thread that needs the store its own object, or post to the owner.
//  - Any call may be slow: it may wait for a disk, a file lock held by another process
//    (`herald user`), or, with a networked backend, a round trip. Services keep their hot
//    state in memory, answer from memory, and write through after updating it; they never
//    wait for the store to answer a SIP request on the hot path.
//  - A call that returns ok() is durable against a crash of this process (kill -9): the next
//    Store opened on the same data reads it back.
//  - All values are plain copies; nothing returned refers to the store's memory.
// These rules let a backend that is asynchronous underneath (Redis) implement the interface
// by completing each call before returning, or behind a write-behind queue.

// A user allowed to authenticate. Passwords are never stored, only the RFC 3261 §22.4
// / RFC 8760 HA1 = H(username ":" realm ":" password), lower-case hex.
struct User {
  std::string aor;         // "sip:alice@example.com", host lower-case (the caller normalises)
  std::string realm;       // the digest realm the HA1s were computed for
  std::string ha1_md5;     // 32 hex digits
  std::string ha1_sha256;  // 64 hex digits

  friend bool operator==(const User&, const User&) = default;
};

// Users and their credentials. Keyed by aor (exact, byte-wise comparison).
class UserStore {
 public:
  virtual ~UserStore() = default;

  // kAlreadyExists if a user with this aor exists; kInvalidArgument if aor is empty.
  virtual Status add_user(const User& user) = 0;
  // Replaces realm and HA1s of an existing user; kNotFound if absent.
  virtual Status update_user(const User& user) = 0;
  // kNotFound if absent.
  virtual Status remove_user(std::string_view aor) = 0;
  // kNotFound (an error Result) if absent.
  virtual Result<User> find_user(std::string_view aor) const = 0;
  // All users, ordered by aor.
  virtual Result<std::vector<User>> list_users() const = 0;
  // A number that changes whenever a user is added, changed or removed, by any process
  // sharing the store (for SQLite: any connection to the same file, `herald user` included);
  // a refused call leaves it as it was. Cheap: polled about once a second (UserCache).
  virtual Result<std::int64_t> users_generation() const = 0;

  // Recomputes both HA1s for the user's own realm and stores them: find_user() + update_user().
  Status set_password(std::string_view aor, std::string_view password);
};

// One contact of an address-of-record (RFC 3261 §10, RFC 5626 outbound, RFC 3327 Path).
// (aor, contact) is unique among the bindings; the store keys them by id.
struct Binding {
  std::string aor;                // "sip:alice@example.com"
  std::string contact;            // the Contact URI as registered
  std::string call_id;            // Call-ID of the REGISTER that created or refreshed it
  std::uint32_t cseq = 0;         // its CSeq number
  std::int64_t expires_at = 0;    // absolute, unix seconds
  int q = -1;                     // q-value in thousandths (0..1000); -1 when absent
  std::vector<std::string> path;  // Path header URIs, in order; none may be empty or hold '\n'
  std::string instance;           // +sip.instance, may be empty
  std::string received;           // source of the REGISTER, "udp:192.0.2.1:5060" (NAT)
  std::int64_t updated_at = 0;    // unix seconds of the last write
  std::int64_t id = 0;            // the store's key (> 0), chosen by the writer (see BindingStore)

  friend bool operator==(const Binding&, const Binding&) = default;
};

// Registrar bindings. The registrar keeps them in memory and writes each change through.
//
// They are stored by id, in the order of their ids, and the writer (the location service)
// chooses the ids: a new binding gets a higher one than any stored, and keeps it when it is
// refreshed. A new binding is then written at the end of the table, where the bindings
// written just before it are, instead of on a page of its AOR anywhere in the file: a
// commit of a few hundred REGISTERs writes a few pages, not one page each. The writer also
// keeps (aor, contact) unique; the store does not check it.
class BindingStore {
 public:
  virtual ~BindingStore() = default;

  // Inserts, or replaces the binding with the same id. kInvalidArgument if the id is not
  // positive, aor or contact is empty, or a path element is empty or holds '\n'.
  virtual Status put_binding(const Binding& binding) = 0;
  // kNotFound if there is no binding with this id.
  virtual Status remove_binding(std::int64_t id) = 0;
  // Removes every binding of aor; returns how many there were (0 is not an error). Reads
  // every binding (there is no index by AOR): for `herald user del`, not for requests.
  virtual Result<std::size_t> remove_bindings(std::string_view aor) = 0;
  // Every stored binding, expired or not, ordered by id: for startup.
  virtual Result<std::vector<Binding>> load_bindings() const = 0;
  // Removes the bindings with expires_at <= now; returns how many.
  virtual Result<std::size_t> remove_expired(std::int64_t now) = 0;
};

// A MESSAGE accepted for a recipient who could not take it (RFC 3428 store-and-forward),
// kept until delivered (a 2xx from the recipient) or expired.
struct StoredMessage {
  std::int64_t id = 0;           // assigned by store_message(); increasing = delivery order
  std::string recipient;         // AOR "sip:bob@example.com"
  std::string from;              // From header value as received (name-addr, tag included)
  std::string to;                // To header value as received
  std::string content_type;      // Content-Type value; empty when there is no body
  std::string body;              // the body bytes, untouched (may hold NULs or binary)
  std::string date;              // Date header value (RFC 1123) of the original request
  std::int64_t received_at = 0;  // unix seconds when the server accepted it
  std::int64_t expires_at = 0;   // unix seconds; removed by remove_expired_messages()
  std::uint32_t attempts = 0;    // failed delivery attempts so far

  friend bool operator==(const StoredMessage&, const StoredMessage&) = default;
};

// Offline messages, per recipient, in the order they were accepted.
class MessageStore {
 public:
  virtual ~MessageStore() = default;

  // Stores `message` (its id is ignored) and returns the new id, greater than every id
  // returned before by this store, removed ones included: ids are never reused. For SQLite
  // this holds across reopening and across the processes sharing the file.
  // kInvalidArgument if recipient is empty.
  virtual Result<std::int64_t> store_message(const StoredMessage& message) = 0;
  // The stored messages of `recipient` (expired ones included), ordered by id.
  virtual Result<std::vector<StoredMessage>> pending_messages(std::string_view recipient) const = 0;
  // How many messages `recipient` has stored (for the per-user cap).
  virtual Result<std::size_t> count_messages(std::string_view recipient) const = 0;
  // Every recipient with at least one stored message, ordered (for delivery after a restart).
  virtual Result<std::vector<std::string>> message_recipients() const = 0;
  // kNotFound if there is no message with this id.
  virtual Status remove_message(std::int64_t id) = 0;
  // Sets the attempts counter of message `id`; kNotFound if absent.
  virtual Status set_message_attempts(std::int64_t id, std::uint32_t attempts) = 0;
  // Removes the messages with expires_at <= now; returns how many.
  virtual Result<std::size_t> remove_expired_messages(std::int64_t now) = 0;
};

// One publication of presence state (RFC 3903): the current body a publisher (one device)
// sent for a presentity, keyed by its entity-tag. A presentity may have several.
struct Publication {
  std::string etag;              // the SIP-ETag Herald issued; unique across the store
  std::string presentity;        // AOR "sip:bob@example.com"
  std::string event;             // event package, "presence"
  std::string content_type;      // Content-Type value of the body
  std::string body;              // the body bytes as published
  std::int64_t sequence = 0;     // order of first publication (composition is oldest first)
  std::int64_t expires_at = 0;   // unix seconds
  std::int64_t updated_at = 0;   // unix seconds of the last PUBLISH that touched it

  friend bool operator==(const Publication&, const Publication&) = default;
};

// Publications, written through by the presence agent, read back at startup.
class PublicationStore {
 public:
  virtual ~PublicationStore() = default;

  // Inserts `publication`, replacing the one with the same etag; when `replaces` is
  // non-empty and differs, the publication with that etag is removed in the same
  // transaction (a refresh or modify issues a new entity-tag, RFC 3903 §6); that there is
  // none with that etag (already expired and removed) is not an error.
  // kInvalidArgument if etag or presentity is empty.
  virtual Status put_publication(const Publication& publication, std::string_view replaces = {}) = 0;
  // kNotFound if there is no publication with this etag.
  virtual Status remove_publication(std::string_view etag) = 0;
  // Every stored publication, expired or not, ordered by (presentity, sequence).
  virtual Result<std::vector<Publication>> load_publications() const = 0;
  // Removes the publications with expires_at <= now; returns how many.
  virtual Result<std::size_t> remove_expired_publications(std::int64_t now) = 0;
};

// A subscription dialog of the event framework (RFC 6665), as the notifier persists it so
// that it survives a restart: after one, NOTIFYs continue within the same dialog.
struct SubscriptionRecord {
  std::string key;                     // the notifier's unique key of the subscription
  std::string package;                 // "presence", "presence.winfo"
  std::string event_id;                // Event id parameter; empty when absent
  std::string resource;                // AOR subscribed to
  std::string watcher;                 // the subscriber's AOR (From URI)
  std::string watcher_display;         // From display name, may be empty
  std::string call_id;
  std::string local_tag;               // Herald's tag (To of the SUBSCRIBE)
  std::string remote_tag;              // the subscriber's tag (From of the SUBSCRIBE)
  std::string local_uri;               // To URI of the SUBSCRIBE
  std::string remote_uri;              // From URI of the SUBSCRIBE
  std::string remote_target;           // the subscriber's Contact URI
  std::vector<std::string> route_set;  // Record-Route URIs in order; none empty or holding '\n'
  std::string flow;                    // "tcp:192.0.2.1:5070" when it came over TCP, else empty
  std::string content_type;            // the body type negotiated from Accept
  std::uint32_t remote_cseq = 0;       // CSeq of the last SUBSCRIBE in the dialog
  std::uint32_t local_cseq = 0;        // NOTIFY CSeq numbers below this have been used
  std::int64_t expires_at = 0;         // unix seconds
  std::string state;                   // "active" or "pending"

  friend bool operator==(const SubscriptionRecord&, const SubscriptionRecord&) = default;
};

class SubscriptionStore {
 public:
  virtual ~SubscriptionStore() = default;

  // Inserts, or replaces the record with the same key. kInvalidArgument if key is empty or
  // a route element is empty or holds '\n'.
  virtual Status put_subscription(const SubscriptionRecord& subscription) = 0;
  // kNotFound if there is no such record.
  virtual Status remove_subscription(std::string_view key) = 0;
  // Every stored record, expired or not, ordered by key.
  virtual Result<std::vector<SubscriptionRecord>> load_subscriptions() const = 0;
};

// A presence authorization rule (RFC 5025 sub-handling actions) of one presentity for one
// watcher: `watcher` is an AOR ("sip:alice@example.com") or a whole domain ("example.com").
struct PresenceRule {
  std::string presentity;  // AOR
  std::string watcher;     // AOR or domain
  std::string action;      // "allow", "block", "polite-block" or "confirm"

  friend bool operator==(const PresenceRule&, const PresenceRule&) = default;
};

// Authorization rules, written by `herald presence` while the server runs; the server
// notices changes by polling presence_rules_generation().
class PresenceRuleStore {
 public:
  virtual ~PresenceRuleStore() = default;

  // Inserts or replaces the rule for (presentity, watcher). kInvalidArgument if a field is
  // empty or the action is not one of the four.
  virtual Status set_presence_rule(const PresenceRule& rule) = 0;
  // kNotFound if there is no rule for (presentity, watcher).
  virtual Status remove_presence_rule(std::string_view presentity, std::string_view watcher) = 0;
  // Every rule, ordered by (presentity, watcher).
  virtual Result<std::vector<PresenceRule>> load_presence_rules() const = 0;
  // A number that changes whenever a rule is set (also to the action it had) or removed, by
  // any process sharing the store (for SQLite: any connection to the same file); a refused
  // call leaves it as it was. Cheap: polled about once a second.
  virtual Result<std::int64_t> presence_rules_generation() const = 0;
};

// Everything Herald persists, behind one object per thread (see the contract above).
class Store : public UserStore,
              public BindingStore,
              public MessageStore,
              public PublicationStore,
              public SubscriptionStore,
              public PresenceRuleStore {
 public:
  ~Store() override = default;

  // ---- group commit (optional; a backend that does not batch keeps the contract above)
  //
  // After batch_writes(opened), a write may open a batch instead of being durable on return:
  // the first write of a batch calls opened(), and the batch's writes become durable together
  // at commit_batch(), which the caller runs soon after (a shard: once the handlers already
  // due have run). Until then the caller sends nothing that depends on them, so one disk write
  // serves many requests and nothing is acknowledged before it is durable. Reads see the
  // batch's own writes. Returns false (and never calls `opened`) if the backend does not batch.
  virtual bool batch_writes(const std::function<void()>& opened) {
    static_cast<void>(opened);
    return false;
  }
  // Makes the open batch durable; nothing to do without one. An error means the batch's
  // writes were rolled back (the memory state above them stays as it is).
  virtual Status commit_batch() { return {}; }
  // True while writes wait for commit_batch() (a write-behind backend: or for its writer).
  virtual bool batch_open() const { return false; }
  // For holding sends by batch: the number of batches opened so far (the open one included),
  // and how many of them are durable. A send made while batch_open() waits for the batch
  // batches_begun() names, until batches_durable() reaches it. A backend that commits in
  // commit_batch() has both equal once it returns.
  virtual std::uint64_t batches_begun() const { return 0; }
  virtual std::uint64_t batches_durable() const { return 0; }
  // A write-behind backend calls `notify`, on a thread of its own, each time
  // batches_durable() moves; others never call it (commit_batch() is the moment).
  virtual void on_durable(const std::function<void()>& notify) { static_cast<void>(notify); }
  // Returns once every write made so far is durable (commit_batch() included).
  virtual Status wait_durable() { return commit_batch(); }

  // ---- read snapshots (optional): after snapshot_reads(opened), find_user() calls share one
  // read transaction until end_snapshot(); the first calls opened(), and the caller ends the
  // snapshot soon after (a shard: with its batch, once the handlers already due have run), so
  // that what another process committed meanwhile is seen by the next one. Returns false
  // (and never calls `opened`) if the backend has nothing to share.
  virtual bool snapshot_reads(const std::function<void()>& opened) {
    static_cast<void>(opened);
    return false;
  }
  virtual void end_snapshot() {}
};

struct StoreConfig {
  std::string backend = "sqlite";      // "sqlite" or "memory"
  std::filesystem::path data_dir;      // sqlite: holds herald.db; created if missing
  int busy_timeout_ms = 5000;          // sqlite: how long to wait for another writer's lock
  bool writer_thread = false;          // sqlite: writes behind a queue, on a thread of their own
                                       // (WriteBehindStore; a server's, with batch_writes())
};

// Opens (creating and migrating if needed) the store config names. Errors: kUnsupported for
// an unknown backend or a schema newer than this build; kCorruption for a file that is not
// a database; kIoError otherwise. Startup calls it once per thread that needs a store.
Result<std::unique_ptr<Store>> open_store(const StoreConfig& config);

// Check the invariants that put_binding(), put_publication(), put_subscription() and
// set_presence_rule() document; shared by the backends.
Status validate_binding(const Binding& binding);
Status validate_publication(const Publication& publication);
Status validate_subscription(const SubscriptionRecord& subscription);
Status validate_presence_rule(const PresenceRule& rule);

// True for the four PresenceRule actions: "allow", "block", "polite-block", "confirm".
bool is_presence_action(std::string_view action);

}  // namespace herald::store
