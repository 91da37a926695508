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
#include <vector>

#include "services/proxy/dialog_token.h"
#include "services/registrar/location_service.h"
#include "sip/msg/message.h"
#include "sip/stack/network.h"
#include "sip/transport/resolver.h"
#include "sip/transport/transport_user.h"
#include "sip/txn/timer_service.h"
#include "sip/txn/transaction_layer.h"

namespace herald::services::proxy {

enum class Mode { kProxy, kRedirect };

struct ProxyConfig {
  Mode mode = Mode::kProxy;
  bool record_route = true;
  bool relay = false;
  std::chrono::milliseconds timer_c{std::chrono::seconds(181)};
  std::vector<std::string> domains;  // served domains, lower case
  std::uint32_t shard = 0;
  // The key of the dialog token in Herald's Record-Route (dialog_token.h); empty: a random one
  // (tokens then die with the process).
  std::string dialog_secret;
  // A non-INVITE request for a local user still unanswered after this goes to
  // Hooks::on_slow (the IM relay stores a MESSAGE and answers 202 well before the sender's
  // Timer F, 32 s); 0: never.
  std::chrono::milliseconds answer_within{0};
  // Requests for users that do not exist are answered as for users who are offline (480; a
  // MESSAGE goes to Hooks::on_unavailable), so that no answer tells them apart.
  bool hide_unknown_users = false;
};

// Where a request goes once the Route values naming Herald are taken off (RFC 3261 §16.4), as
// far as the relay rule cares: a request Herald may not relay for everyone.
struct Routing {
  // A Route remains that names another host, or the Request-URI names neither a local user,
  // nor a registered contact, nor Herald itself.
  bool foreign = false;
  // A Route value (or a strict router's Request-URI) naming Herald carried Herald's dialog token
  // for this request's Call-ID and tags: the request belongs to a dialog Herald record-routed.
  bool in_dialog = false;
};

// The final response a proxied request got (or Herald made for it), as given to a Hooks
// callback: `best` is what §16.7 chose, with Herald's Via already removed; `codes` lists
// every branch's final status.
struct Outcome {
  const sip::Message& best;
  std::vector<int> codes;
};

// Services that take over some requests to local users (the IM relay's store-and-forward).
class Hooks {
 public:
  virtual ~Hooks() = default;
  // A request for `aor`, which has bindings, about to be forwarded to them. Return true
  // after answering it instead (a MESSAGE queued behind stored ones).
  virtual bool on_forward(sip::txn::ServerTransactionId id, const sip::Message& request, const std::string& aor) = 0;
  // A request for `aor`, with no binding: a known user's (`exists`), or, with
  // hide_unknown_users, one that does not exist. Return true after answering it.
  virtual bool on_unavailable(sip::txn::ServerTransactionId id, const sip::Message& request, const std::string& aor,
                              bool exists) = 0;
  // Every branch of a request for `aor` ended without a 2xx; `outcome.best` is about to be
  // sent. Return true after answering the request instead.
  virtual bool on_failed(sip::txn::ServerTransactionId id, const sip::Message& request, const std::string& aor,
                         const Outcome& outcome) = 0;
  // A non-INVITE request for `aor` has had no final response for answer_within; its branches
  // go on. Return a non-zero ticket after answering it (202 for a MESSAGE it stored), 0 to let
  // it wait; the ticket comes back to on_slow_done once every branch has ended.
  virtual std::uint64_t on_slow(sip::txn::ServerTransactionId id, const sip::Message& request,
                                const std::string& aor) = 0;
  // The branches of a request answered by on_slow ended; `delivered`: one took it (2xx).
  virtual void on_slow_done(std::uint64_t ticket, bool delivered) = 0;
};

struct ProxyCounters {
  std::uint64_t forwarded = 0;        // requests forwarded statefully (each branch counted)
  std::uint64_t stateless = 0;        // ACKs and stray 2xx forwarded without a transaction
  std::uint64_t loops = 0;            // 482 answers
  std::uint64_t redirects = 0;        // 302 answers
  std::uint64_t cancelled = 0;        // CANCELs sent downstream
};

// The stateful proxy of RFC 3261 §16 for one shard: request targets from the location
// service (forking in q order: parallel within a q group, sequential between groups), the
// bindings' Path as a route set, loose routing, Record-Route, Max-Forwards, loop detection,
// Timer C, CANCEL, and the §16.7 choice of the best response. Also a redirect server
// (302 with the bindings) when configured so.
//
// Threading: one per shard, on its thread. Lifetime: every reference must outlive it.
class Proxy {
 public:
  // Whether `aor` has an account; asked only for an AOR with no binding (404 versus 480).
  using UserExists = std::function<bool(const std::string& aor)>;

  Proxy(ProxyConfig config, sip::txn::TransactionLayer& layer, sip::txn::TimerService& timers,
        registrar::LocationService& location, sip::Network& network, UserExists user_exists,
        sip::transport::HostsFile hosts);
  Proxy(const Proxy&) = delete;
  Proxy& operator=(const Proxy&) = delete;
  ~Proxy();

  void set_hooks(Hooks* hooks) { hooks_ = hooks; }

  // Whether `uri` names this server: a served domain (with no port, or one of Herald's), or
  // one of its listening addresses and ports.
  bool is_me(const sip::Uri& uri) const;
  // Whether `request` is for the server itself rather than for a user or another server:
  // no user part in a Request-URI that is_me(), and no Route beyond Herald's own.
  bool addressed_to_server(const sip::Message& request) const;
  // Whether `host` is one of the served domains.
  bool serves_domain(std::string_view host) const;

  // How `request` would be routed (see Routing); the caller decides with it whether the sender
  // must prove who it is before a foreign target is served.
  Routing routing_of(const sip::Message& request) const;
  // A request for a user that does not exist was answered (404, or as if offline with
  // hide_unknown_users): `source` probed for users. For the failure throttle.
  void set_unknown_user_reporter(std::function<void(const sip::transport::Source&)> report) {
    unknown_user_ = std::move(report);
  }
  // Routes and forwards a request (any method but ACK, CANCEL and REGISTER) or answers it.
  // A non-INVITE request never gets a 408 (RFC 4320 §4.2): when every branch timed out it gets
  // no answer at all, unless Hooks::on_slow gave one first.
  // `may_relay`: the request may go to a foreign target (its sender is an authenticated local
  // user, it is in a dialog Herald record-routed, or relay is on); otherwise a foreign target
  // gets 403 Relaying denied.
  void handle(sip::txn::ServerTransactionId id, const sip::Message& request, const sip::transport::Source& source,
              bool may_relay);
  // CANCEL of a forwarded INVITE: sends CANCEL on its pending branches and stops further
  // ones; the INVITE ends with the branches' answers. False if the proxy does not hold the
  // transaction.
  bool cancel(sip::txn::ServerTransactionId invite);
  // An ACK for a 2xx (or any ACK no transaction took): forwarded along its route.
  void on_ack(const sip::Message& ack, const sip::transport::Source& source);
  // A response no client transaction took: a 2xx for INVITE carrying Herald's Via is
  // forwarded statelessly (§16.7 step 5 retransmissions); others are dropped.
  void on_stray_response(const sip::Message& response);

  // Sends `request` (built by a service, with no Via yet) to the bindings of `aor` like a
  // forwarded request, and reports the chosen final response (408 when nothing answered).
  void originate(sip::Message request, const std::string& aor, std::function<void(const sip::Message&)> done);

  const ProxyCounters& counters() const { return counters_; }
  std::size_t pending() const { return transactions_.size(); }

 private:
  struct Target;
  struct Branch;
  struct Transaction;

  void route(sip::txn::ServerTransactionId id, const sip::Message& request, const sip::transport::Source& source,
             std::string hash, bool may_relay);
  void redirect(sip::txn::ServerTransactionId id, const sip::Message& request,
                const std::vector<store::Binding>& bindings);
  std::vector<Target> targets_of(const std::vector<store::Binding>& bindings) const;
  Target target_of(const store::Binding& binding) const;
  void start(std::unique_ptr<Transaction> txn);
  // One branch to the device `binding` names, the Request-URI kept.
  void start_to_contact(std::unique_ptr<Transaction> txn, const store::Binding& binding);
  void start_next_group(Transaction& txn);
  void start_branch(Transaction& txn, const Target& target);
  void on_branch_response(std::uint64_t txn_id, std::size_t branch, const sip::Message& response);
  void on_branch_failure(std::uint64_t txn_id, std::size_t branch, int code, std::string_view reason);
  void on_timer_c(std::uint64_t txn_id, std::size_t branch);
  void on_answer_due(std::uint64_t txn_id);
  void cancel_branch(Transaction& txn, Branch& branch);
  void cancel_pending(Transaction& txn, std::size_t except);
  void finish_if_done(Transaction& txn);
  void send_upstream(Transaction& txn, const sip::Message& response);
  void erase(std::uint64_t txn_id);
  std::string record_route_value(sip::transport::Protocol protocol, bool double_route, std::string_view token) const;
  // Whether `uri` names Herald and carries a dialog token valid for `request`.
  bool carries_token(const sip::Uri& uri, const sip::Message& request) const;
  bool is_loop(const sip::Message& request, const std::string& hash) const;

  ProxyConfig config_;
  sip::txn::TransactionLayer& layer_;
  sip::txn::TimerService& timers_;
  registrar::LocationService& location_;
  sip::Network& network_;
  UserExists user_exists_;
  sip::transport::HostsFile hosts_;
  Hooks* hooks_ = nullptr;
  std::function<void(const sip::transport::Source&)> unknown_user_;
  DialogTokens tokens_;

  std::mt19937_64 random_;
  std::uint64_t next_id_ = 1;
  std::unordered_map<std::uint64_t, std::unique_ptr<Transaction>> transactions_;
  std::unordered_map<sip::txn::ServerTransactionId, std::uint64_t> by_server_;
  ProxyCounters counters_;
};

// The §16.3 step 4 / §16.6 step 8 loop-detection value of a request: a hash of the
// Request-URI as received, From tag, To tag, Call-ID and CSeq number, 16 hex digits.
std::string loop_hash(const sip::Message& request);

// §16.7 step 6: the index of the best final response among `codes` (6xx first, else the
// lowest class, preferring 401/407/415/420/484 within 4xx), or nullopt when empty.
std::optional<std::size_t> best_response(const std::vector<int>& codes);

}  // namespace herald::services::proxy
