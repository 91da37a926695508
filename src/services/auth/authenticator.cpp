#include "services/auth/authenticator.h"

#include <algorithm>
#include <array>

#include <openssl/crypto.h>

#include <utility>

#include "sip/msg/grammar.h"
#include "sip/msg/headers.h"
#include "sip/msg/uri.h"

namespace herald::services::auth {
namespace {

using sip::grammar::iequals;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  char l = sip::grammar::to_lower(c);
  if (l >= 'a' && l <= 'f') return l - 'a' + 10;
  return -1;
}

// nc-value = 8LHEX (upper case tolerated); nullopt otherwise, and for 0.
std::optional<std::uint32_t> parse_nc(std::string_view s) {
  if (s.size() != 8) return std::nullopt;
  std::uint32_t v = 0;
  for (char c : s) {
    int d = hex_value(c);
    if (d < 0) return std::nullopt;
    v = (v << 4) | static_cast<std::uint32_t>(d);
  }
  if (v == 0) return std::nullopt;
  return v;
}

// The hex digest in lower case; empty when `s` is not `length` hex digits.
std::string lower_hex(std::string_view s, std::size_t length) {
  if (s.size() != length) return {};
  std::string out(s);
  for (char& c : out) {
    if (hex_value(c) < 0) return {};
    c = sip::grammar::to_lower(c);
  }
  return out;
}

// Why a request is not authenticated, as a Verdict says it.
struct Refusal {
  Outcome outcome;
  std::string_view reason;  // static storage duration
};

// The Digest credentials for `realm` among the request's Authorization (proxy:
// Proxy-Authorization) lines, into `chosen`; the refusal when there are none.
std::optional<Refusal> choose_credentials(const sip::Message& request, std::string_view realm,
                                          bool proxy, sip::AuthValue& chosen) {
  bool other_realm = false;
  bool digest_without_realm = false;
  // Lines of other schemes are skipped even when we cannot parse them (Basic's token68,
  // say); a Digest line we cannot parse makes the request malformed.
  const sip::HeaderId wanted =
      proxy ? sip::HeaderId::kProxyAuthorization : sip::HeaderId::kAuthorization;
  for (const sip::HeaderField& field : request.headers()) {
    if (field.id != wanted) continue;
    std::string_view scheme = field.value.substr(0, field.value.find_first_of(" \t"));
    if (!iequals(scheme, "Digest")) continue;
    auto parsed = sip::parse_auth(field.value);
    if (!parsed) return Refusal{Outcome::kMalformed, parsed.why()};
    auto r = parsed->param("realm");
    if (!r) {
      digest_without_realm = true;
      continue;
    }
    if (unescape_quoted(*r) == realm) {
      chosen = *parsed;
      return std::nullopt;
    }
    other_realm = true;
  }
  if (digest_without_realm) return Refusal{Outcome::kMalformed, "missing digest realm"};
  if (other_realm) return Refusal{Outcome::kWrongRealm, "credentials for another realm"};
  return Refusal{Outcome::kNoCredentials, "no credentials"};
}

// A digest response's parameters (quotes removed, escapes kept), checked.
struct DigestParams {
  std::string_view username;
  std::string_view nonce;
  std::string_view uri;
  std::string_view qop;
  std::string_view nc_text;
  std::uint32_t nc = 0;
  std::string_view cnonce;
  Algorithm algorithm = Algorithm::kMd5;
  std::string response;  // lower-case hex
};

// Reads the parameters of `credentials` into `out`, checking their syntax and that the
// algorithm is one of `offered`; the refusal when they do not pass.
std::optional<Refusal> read_digest(const sip::AuthValue& credentials,
                                   const std::vector<Algorithm>& offered, DigestParams& out) {
  // The parameters are found in one pass over the list.
  enum Param : std::uint8_t { kUsername, kNonce, kUri, kResponse, kAlgorithm, kQop, kNc, kCnonce, kCount };
  static constexpr std::array<std::string_view, kCount> kNames = {"username", "nonce",  "uri", "response",
                                                                  "algorithm", "qop", "nc",  "cnonce"};
  std::array<std::optional<std::string_view>, kCount> found;
  credentials.find_params(kNames, found);
  const auto& username = found[kUsername];
  const auto& nonce = found[kNonce];
  const auto& uri = found[kUri];
  const auto& client_response = found[kResponse];
  if (!username) return Refusal{Outcome::kMalformed, "missing digest username"};
  if (!nonce || nonce->empty()) return Refusal{Outcome::kMalformed, "missing digest nonce"};
  if (!uri || uri->empty()) return Refusal{Outcome::kMalformed, "missing digest uri"};
  if (!client_response) return Refusal{Outcome::kMalformed, "missing digest response"};
  Algorithm alg = Algorithm::kMd5;  // RFC 7616 §3.4: absent means MD5
  if (const auto& name = found[kAlgorithm]) {
    auto parsed = parse_algorithm(*name);
    if (!parsed) return Refusal{Outcome::kUnsupportedAlgorithm, "digest algorithm not offered"};
    alg = *parsed;
  }
  if (std::find(offered.begin(), offered.end(), alg) == offered.end()) {
    return Refusal{Outcome::kUnsupportedAlgorithm, "digest algorithm not offered"};
  }
  const auto& qop = found[kQop];
  if (!qop) return Refusal{Outcome::kMalformed, "digest qop required"};
  if (!iequals(*qop, "auth")) return Refusal{Outcome::kMalformed, "digest qop not auth"};
  const auto& nc_text = found[kNc];
  std::optional<std::uint32_t> nc = nc_text ? parse_nc(*nc_text) : std::nullopt;
  if (!nc) return Refusal{Outcome::kMalformed, "bad digest nc"};
  const auto& cnonce = found[kCnonce];
  if (!cnonce || cnonce->empty()) return Refusal{Outcome::kMalformed, "missing digest cnonce"};
  std::string hex_response = lower_hex(*client_response, hex_length(alg));
  if (hex_response.empty()) return Refusal{Outcome::kMalformed, "bad digest response"};
  out = DigestParams{.username = *username,
                     .nonce = *nonce,
                     .uri = *uri,
                     .qop = *qop,
                     .nc_text = *nc_text,
                     .nc = *nc,
                     .cnonce = *cnonce,
                     .algorithm = alg,
                     .response = std::move(hex_response)};
  return std::nullopt;
}

// RFC 3261 §22.4: whether the credentials (digest uri `uri_text`, unquoted) are for this
// Request-URI: compared as URIs when both parse, as text otherwise.
bool for_request_uri(const sip::Message& request, const std::string& uri_text) {
  auto digest_uri = sip::parse_uri(uri_text);
  const auto& request_uri = request.request_uri();
  return digest_uri.ok() && request_uri.ok() ? sip::uri_equal(*digest_uri, *request_uri)
                                             : uri_text == request.request_uri_text();
}

}  // namespace

std::string_view outcome_name(Outcome outcome) {
  switch (outcome) {
    case Outcome::kOk: return "ok";
    case Outcome::kNoCredentials: return "no credentials";
    case Outcome::kStale: return "stale";
    case Outcome::kBadCredentials: return "bad credentials";
    case Outcome::kMalformed: return "malformed";
    case Outcome::kUnsupportedAlgorithm: return "unsupported algorithm";
    case Outcome::kReplay: return "replay";
    case Outcome::kWrongRealm: return "wrong realm";
    case Outcome::kThrottled: return "throttled";
  }
  return "unknown";
}

Authenticator::Authenticator(const NonceFactory& nonces, NonceCounts& counts,
                             CredentialsLookup lookup, RealmForDomain realm_for_domain)
    : nonces_(nonces),
      counts_(counts),
      lookup_(std::move(lookup)),
      realm_for_domain_(std::move(realm_for_domain)) {}

std::string Authenticator::realm_for(const sip::Message& request) const {
  auto address = request.method() == sip::Method::kRegister ? request.get<sip::hdr::To>()
                                                            : request.get<sip::hdr::From>();
  if (!address || !address->uri.is_sip()) return {};
  std::string domain = sip::grammar::lower(address->uri.host);
  return realm_for_domain_ ? realm_for_domain_(domain) : domain;
}

Challenge Authenticator::challenge(std::string_view realm, bool stale, bool proxy) const {
  Challenge c;
  c.header = proxy ? sip::HeaderId::kProxyAuthenticate : sip::HeaderId::kWwwAuthenticate;
  // One nonce serves both offers: it is not bound to an algorithm.
  std::string common = "Digest realm=" + quote(realm) + ", nonce=\"" + nonces_.make(realm) + "\"";
  for (Algorithm alg : algorithms_) {
    std::string value = common;
    value += ", algorithm=";
    value += algorithm_name(alg);
    value += ", qop=\"auth\"";
    if (stale) value += ", stale=true";
    c.values.push_back(std::move(value));
  }
  return c;
}

void Authenticator::add_challenge(sip::Message& response, std::string_view realm, bool stale,
                                  bool proxy) const {
  Challenge c = challenge(realm, stale, proxy);
  for (const std::string& value : c.values) response.append(c.header, value);
}

Verdict Authenticator::verify(const sip::Message& request, bool proxy, const boost::asio::ip::address* source) {
  return verify(request, realm_for(request), proxy, source);
}

Verdict Authenticator::verify(const sip::Message& request, std::string_view realm, bool proxy,
                              const boost::asio::ip::address* source) {
  Verdict v;
  v.realm = std::string(realm);
  auto verdict = [&v](Outcome outcome, std::string_view reason) {
    v.outcome = outcome;
    v.reason = reason;
    return v;
  };
  if (!request.is_request()) return verdict(Outcome::kMalformed, "not a request");
  if (realm.empty()) return verdict(Outcome::kMalformed, "no domain to authenticate in");
  const auto refused = [&verdict](const Refusal& r) { return verdict(r.outcome, r.reason); };

  sip::AuthValue authorization;
  if (auto r = choose_credentials(request, realm, proxy, authorization)) return refused(*r);
  DigestParams digest;
  if (auto r = read_digest(authorization, algorithms_, digest)) return refused(*r);
  std::string uri_text = unescape_quoted(digest.uri);
  if (!for_request_uri(request, uri_text)) {
    return verdict(Outcome::kMalformed, "digest uri does not match Request-URI");
  }

  std::string user = unescape_quoted(digest.username);
  Throttle* throttle = source != nullptr ? throttle_ : nullptr;
  std::string account;
  if (throttle != nullptr) {
    account = user + "@" + std::string(realm);
    if (auto wait = throttle->account_blocked(account, *source)) {
      v.retry_after = *wait;
      return verdict(Outcome::kThrottled, "too many failed authentications for this account");
    }
  }

  // The digest, with the same work whether or not the user exists.
  std::string nonce_text = unescape_quoted(digest.nonce);
  NonceStatus nonce_status = nonces_.check(nonce_text, realm);
  std::optional<Credentials> credentials = lookup_(user, realm);
  std::string stored;
  if (credentials) {
    stored = lower_hex(digest.algorithm == Algorithm::kSha256 ? credentials->ha1_sha256
                                                              : credentials->ha1_md5,
                       hex_length(digest.algorithm));
  }
  const bool known = !stored.empty();
  if (!known) stored.assign(hex_length(digest.algorithm), '0');  // dummy HA1
  std::string expected =
      response(digest.algorithm, stored, nonce_text, digest.nc_text, unescape_quoted(digest.cnonce),
               digest.qop, ha2(digest.algorithm, request.method_name(), uri_text));
  const std::string& got = digest.response;
  bool match = expected.size() == got.size() &&
               CRYPTO_memcmp(expected.data(), got.data(), expected.size()) == 0;
  if (!match || !known) {
    if (throttle != nullptr) throttle->failed(*source, account, Failure::kBadCredentials);
    return verdict(Outcome::kBadCredentials, "bad credentials");
  }
  if (throttle != nullptr) throttle->succeeded(*source, account);

  if (nonce_status != NonceStatus::kValid) return verdict(Outcome::kStale, "stale nonce");
  if (!counts_.accept(nonce_text, digest.nc)) {
    return verdict(Outcome::kReplay, "nonce count not increasing");
  }
  v.username = std::move(user);
  v.algorithm = digest.algorithm;
  return verdict(Outcome::kOk, "ok");
}

}  // namespace herald::services::auth
