#pragma once

#include <random>
#include <string>
#include <vector>

#include "services/auth/authenticator.h"
#include "services/events/notifier.h"
#include "services/presence/presence_agent.h"
#include "services/proxy/proxy.h"
#include "services/registrar/registrar.h"
#include "sip/stack/network.h"
#include "sip/txn/transaction_layer.h"

namespace herald::services {

// What the server itself offers, advertised in OPTIONS answers and 405 / 420 responses.
// Services add to it as they are wired in (DESIGN.md: one place, assembled from config).
struct Capabilities {
  std::vector<std::string> methods;    // Allow
  std::vector<std::string> events;     // Allow-Events
  std::vector<std::string> accept;     // Accept (body types the server consumes)
  std::vector<std::string> supported;  // Supported / option tags it understands
};

struct CoreCounters {
  std::uint64_t stray_acks = 0;
  std::uint64_t stray_responses = 0;
};

// The transaction user for requests that reach the server: the checks every element makes
// before it looks at the method (RFC 3261 §8.2.1 416, §16.3 483, §8.2.2.3 420), OPTIONS to
// the server (§11.2), CANCEL (§9.2), and the answer for methods no service handles yet
// (405 with Allow for methods Herald knows, 501 for the rest). Requests for users and other
// servers go to the proxy.
//
// Every answer goes through `network` (sip::Network::respond, the stack's one way).
//
// Threading: one instance per shard, called on that shard's thread. Lifetime: `network` must
// outlive it.
class ServerCore final : public sip::txn::TransactionUser {
 public:
  ServerCore(Capabilities capabilities, sip::Network& network);

  // Must be called once, before the layer delivers anything.
  void attach(sip::txn::TransactionLayer& layer) { layer_ = &layer; }
  // The registrar serves REGISTER; with an authenticator, REGISTER is challenged (401).
  // Both must outlive the core; the authenticator may be null (auth = "off").
  void serve_register(registrar::Registrar& registrar, auth::Authenticator* authenticator) {
    registrar_ = &registrar;
    authenticator_ = authenticator;
  }

  // Requests for users and other servers go to the proxy, which must outlive the core.
  void serve_proxy(proxy::Proxy& proxy);
  // Failed-authentication throttling (auth/throttle.h; it must outlive the core): a request
  // from a source in back-off gets 503 with Retry-After before anything else is done with it,
  // and credentials for a guarded account from a source it does not know are not checked
  // (503 with Retry-After). Give the authenticator the same throttle.
  void protect(auth::Throttle& throttle) { throttle_ = &throttle; }
  // SUBSCRIBE for the packages the notifier serves (and in its dialogs) goes to it; PUBLISH
  // for local presentities to the presence agent. Both must outlive the core. SUBSCRIBE for
  // other packages still goes to the proxy (the user's own devices may serve them).
  // Allow-Events becomes the notifier's packages, so call it once they are added.
  void serve_events(events::Notifier& notifier, presence::PresenceAgent& presence) {
    notifier_ = &notifier;
    presence_ = &presence;
    capabilities_.events = notifier.events();
  }

  void on_request(sip::txn::ServerTransactionId id, const sip::Message& request,
                  const sip::transport::Source& source) override;
  // Answered without a transaction (RFC 3261 §8.2.7), with a To tag made from the request:
  // OPTIONS to the server itself (out of dialog), and REGISTER over UDP. A completed
  // transaction would keep the request and its answer (for REGISTER, a list of every binding)
  // for Timer J's 32 s: gigabytes at tens of thousands a second. The registrar answers a copy
  // of a REGISTER it accepted as it answered the original, before the copy is authenticated
  // (the original used up its nonce count); a copy of one that was refused is judged again
  // (a 401 is a fresh challenge each time; one whose credentials were refused for another
  // reason is challenged, its nonce count being spent).
  bool on_stateless_request(const sip::Message& request, std::string_view key,
                            const sip::transport::Source& source) override;
  void on_ack(const sip::Message& ack, const sip::transport::Source& source) override;
  void on_stray_response(const sip::Message& response, const sip::transport::Source& source) override;

  const CoreCounters& counters() const { return counters_; }
  const Capabilities& capabilities() const { return capabilities_; }

 private:
  bool register_stateless(const sip::Message& request, std::string_view server_key,
                          const sip::transport::Source& source, std::string_view to_tag);
  // A request from the transaction layer: through its server transaction `to`, or, a REGISTER
  // over UDP, without one (`copy`: the registrar's key for answering its copies alike).
  void serve(const sip::Reply& to, const sip::Message& request, const sip::transport::Source& source,
             const registrar::Registrar::CopyKey* copy);
  // The checks every request gets before its method is looked at; false: answered here.
  bool admissible(const sip::Reply& to, const sip::Message& request, const sip::transport::Source& source);
  // Answers what no service took: OPTIONS, CANCEL, REGISTER, and the methods Herald lacks.
  void serve_itself(const sip::Reply& to, const sip::Message& request, const sip::transport::Source& source,
                    const registrar::Registrar::CopyKey* copy);
  void handle_register(const sip::Reply& to, const sip::Message& request, const sip::transport::Source& source,
                       const registrar::Registrar::CopyKey* copy);
  enum class Sender : std::uint8_t {
    kRefused,        // answered here (407 challenge, 400, 403): the request goes no further
    kAuthenticated,  // a local user proved to be the From AOR
    kUnchecked,      // not subject to authentication (or auth off): may go on, proves nothing
  };
  // 407 / 400 / 403 for a request from a local user that does not prove its sender. With
  // `always`, also in-dialog requests and OPTIONS are checked (a foreign target needs it).
  Sender check_sender(const sip::Reply& to, const sip::Message& request,
                      const sip::transport::Source& source, bool always);
  // 503 with Retry-After for a request refused by the throttle.
  void respond_throttled(const sip::Reply& to, const sip::Message& request, std::string_view reason,
                         std::uint32_t retry_after);
  // The To tag of an answer through `to`: a stateless one's, else a fresh one.
  std::string tag_for(const sip::Reply& to);
  // Whether a SUBSCRIBE is the notifier's to answer: in one of its dialogs, for the server
  // itself, or for a served domain with no, a malformed or a served Event package.
  bool for_notifier(const sip::Message& subscribe) const;

  // 401 (registrar) or 407 (proxy) with the authenticator's challenge for `realm`.
  void challenge(const sip::Reply& to, const sip::Message& request, const auth::Verdict& verdict,
                 std::string_view realm, bool proxy);

  Capabilities capabilities_;
  std::string allow_;  // capabilities_.methods joined, ready to send
  sip::Network& network_;
  sip::txn::TransactionLayer* layer_ = nullptr;
  registrar::Registrar* registrar_ = nullptr;
  auth::Authenticator* authenticator_ = nullptr;
  auth::Throttle* throttle_ = nullptr;
  proxy::Proxy* proxy_ = nullptr;
  events::Notifier* notifier_ = nullptr;
  presence::PresenceAgent* presence_ = nullptr;
  std::mt19937_64 random_;
  CoreCounters counters_;
};

}  // namespace herald::services
