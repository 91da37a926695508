#pragma once

// SIP digest authentication of requests (RFC 3261 §22, RFC 8760, RFC 7616): issues
// challenges and verifies Authorization / Proxy-Authorization credentials. Pure logic: the
// caller supplies the user's HA1 through a lookup and sends the responses.
//
//   Verdict v = auth.verify(request, /*proxy=*/false);
//   switch (v.outcome) {
//     case Outcome::kOk: /* v.username, v.realm */ break;
//     case Outcome::kMalformed: reply(400, v.reason); break;
//     default:  // kNoCredentials, kBadCredentials, kStale, kReplay, kUnsupportedAlgorithm,
//               // kWrongRealm
//       auto r = make_response(request, 401, "Unauthorized");
//       auth.add_challenge(r, v.realm, v.stale_challenge(), /*proxy=*/false);
//   }
//
// Choices made here (RFC 3261 leaves them to the server):
//  * Two challenges are offered, SHA-256 first then MD5 (RFC 8760 §2.4), each with
//    qop="auth"; no opaque.
//  * qop is required: a response without qop (RFC 2069 style) is kMalformed, because
//    without nc replay cannot be detected. qop=auth-int is kMalformed too.
//  * The digest uri must equal the Request-URI (RFC 3261 §22.4), compared as URIs
//    (uri_equal) when both parse, as strings otherwise; a mismatch is kMalformed
//    ("credentials not for this Request-URI" → 400), not a challenge: the client computed
//    the credentials for another request and a new challenge would not help it.
//  * Unknown user and wrong password give the same outcome, kBadCredentials, after the
//    same work (the digest is computed against a dummy HA1 and compared in constant time).
//  * A nonce we did not issue (bad MAC; e.g. issued before a restart with a random secret)
//    with a correct digest is kStale, so the client retries without asking its user again;
//    with a wrong digest it is kBadCredentials. Stale nonces: kStale when the digest is
//    right, kBadCredentials otherwise (RFC 2617: stale only when the digest is valid).
//  * The nonce count is recorded only after the digest is verified, so nobody without the
//    password can use up a nonce. A count not above the last one for that nonce is kReplay;
//    answer with a fresh challenge and stale=true (the legitimate client retries with the
//    new nonce; a replayer cannot).
//  * An algorithm we did not offer (SHA-512-256, MD5-sess, SHA-256-sess …) is
//    kUnsupportedAlgorithm: answer 401/407 with our challenge, as for no credentials.
//  * Credentials for other realms are ignored; if there are only such, kWrongRealm
//    (answer with our challenge).
//
// Lifetime and threads: the NonceFactory and NonceCounts given to the constructor must
// outlive the Authenticator. One Authenticator per shard (it uses the shard's NonceCounts);
// not thread-safe. The lookup is called on the calling thread.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "services/auth/digest.h"
#include "services/auth/nonce.h"
#include "services/auth/nonce_counts.h"
#include "services/auth/throttle.h"
#include "sip/msg/header_table.h"
#include "sip/msg/message.h"

namespace herald::services::auth {

// A user's stored secrets: HA1 = H(username:realm:password) for each algorithm, lower-case
// hex. An empty field means that algorithm cannot authenticate this user.
struct Credentials {
  std::string ha1_md5;
  std::string ha1_sha256;
};

// Returns the credentials of `username` in `realm`, nullopt for an unknown user.
using CredentialsLookup =
    std::function<std::optional<Credentials>(std::string_view username, std::string_view realm)>;

// Maps a domain (lower-case host of the To / From URI) to the realm to use for it.
using RealmForDomain = std::function<std::string(std::string_view domain)>;

enum class Outcome {
  kOk,                    // authenticated: Verdict::username, Verdict::realm
  kNoCredentials,         // → 401/407 with a challenge
  kStale,                 // → 401/407 with a challenge, stale=true
  kBadCredentials,        // wrong password or unknown user → 401/407 (or 403) with a challenge
  kMalformed,             // → 400 with Verdict::reason
  kUnsupportedAlgorithm,  // → 401/407 with a challenge
  kReplay,                // → 401/407 with a challenge, stale=true
  kWrongRealm,            // → 401/407 with a challenge
  kThrottled,             // not checked: the account is guarded (throttle.h) → 503 with Retry-After
};

std::string_view outcome_name(Outcome outcome);

struct Verdict {
  Outcome outcome = Outcome::kNoCredentials;
  // Why, for logs and for the reason phrase of a 400; static storage duration.
  std::string_view reason;
  // The realm the request was checked against (use it for the challenge).
  std::string realm;
  // kOk only: the authenticated username (unquoted) and the algorithm used.
  std::string username;
  Algorithm algorithm = Algorithm::kMd5;
  // kThrottled only: seconds for Retry-After.
  std::uint32_t retry_after = 0;

  bool ok() const { return outcome == Outcome::kOk; }
  // Whether the challenge answering this verdict should carry stale=true.
  bool stale_challenge() const {
    return outcome == Outcome::kStale || outcome == Outcome::kReplay;
  }
};

// Header values to add to a 401 (WWW-Authenticate) or 407 (Proxy-Authenticate) response.
struct Challenge {
  sip::HeaderId header = sip::HeaderId::kWwwAuthenticate;
  std::vector<std::string> values;  // SHA-256 first, then MD5
};

class Authenticator {
 public:
  // `realm_for_domain` empty: the realm is the domain itself.
  Authenticator(const NonceFactory& nonces, NonceCounts& counts, CredentialsLookup lookup,
                RealmForDomain realm_for_domain = {});

  // The algorithms offered, in challenge order (default SHA-256, then MD5, RFC 8760 §2.4).
  // Credentials with another algorithm are kUnsupportedAlgorithm. Clients that only read
  // the first challenge and know only MD5 (SIPp 3.6, sipsak) need MD5 first or alone.
  // Precondition: not empty.
  void set_algorithms(std::vector<Algorithm> algorithms) { algorithms_ = std::move(algorithms); }
  const std::vector<Algorithm>& algorithms() const { return algorithms_; }

  // The realm for a request: from the To URI's host for REGISTER (the AOR's domain),
  // from the From URI's host otherwise; empty when that header is absent or malformed.
  std::string realm_for(const sip::Message& request) const;

  // Fresh nonces for `realm`: `Digest realm="…", nonce="…", algorithm=SHA-256, qop="auth"`
  // and the same with algorithm=MD5, each with `, stale=true` when `stale`.
  Challenge challenge(std::string_view realm, bool stale, bool proxy) const;
  // Appends the challenge's values to `response`.
  void add_challenge(sip::Message& response, std::string_view realm, bool stale,
                     bool proxy) const;

  // Failed-authentication throttling, when set (it must outlive the Authenticator): verify()
  // with a source reports each kBadCredentials and kOk to it, and does not check credentials
  // for a guarded account from a source the account does not know (kThrottled).
  void set_throttle(Throttle* throttle) { throttle_ = throttle; }

  // Checks the request's Authorization (proxy: Proxy-Authorization) headers against
  // realm_for(request) or the given realm; `source`, the address it came from, for the throttle.
  Verdict verify(const sip::Message& request, bool proxy, const boost::asio::ip::address* source = nullptr);
  Verdict verify(const sip::Message& request, std::string_view realm, bool proxy,
                 const boost::asio::ip::address* source = nullptr);

 private:
  const NonceFactory& nonces_;
  NonceCounts& counts_;
  CredentialsLookup lookup_;
  RealmForDomain realm_for_domain_;
  Throttle* throttle_ = nullptr;
  std::vector<Algorithm> algorithms_ = {Algorithm::kSha256, Algorithm::kMd5};
};

}  // namespace herald::services::auth
