// libFuzzer target: digest credentials, parsed and verified (services/auth/authenticator.h)
// against a fixed set of users, with nonces from a real NonceFactory.
//
// Each input is used twice, in a REGISTER (Authorization) and in a MESSAGE
// (Proxy-Authorization):
//   - as the value of that header, in an otherwise fixed request (a CRLF in the input adds
//     header lines of its own);
//   - as the whole header block after the request line.
// Three placeholders let the fuzzer write credentials that are right: "@URI@" becomes the
// Request-URI, "@NONCE@" the nonce of a fresh challenge for the request's realm, and
// "@RESPONSE@" the request-digest computed (digest.h) from the other fields of the line the
// Authenticator will choose, with the user's real password. Without "@RESPONSE@" nobody
// knows a password here, so nothing may be accepted.
//
// Aborts when:
//   - kOk, kStale or kReplay comes for an input without "@RESPONSE@" (those need a digest
//     computed from the right password);
//   - kOk comes for anything but a known user, in the request's realm, with the digest
//     computed independently from that user's password;
//   - a request with exactly one credentials line gets another outcome than the one
//     recomputed here from authenticator.h's contract (digest.h for the digests);
//   - credentials once accepted are accepted again (kReplay expected), or accepted with a
//     nonce past its lifetime or dated in the future (kStale expected);
//   - kMalformed has no reason, or a reason that cannot be a reason phrase;
//   - the challenge for the realm does not parse back to that realm and a 43-character nonce.
//
// The NonceFactory is made per input with a random secret, so a nonce libFuzzer saw in an
// earlier run (through its comparison hooks) is never valid in a later one.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "services/auth/authenticator.h"
#include "services/auth/digest.h"
#include "services/auth/nonce.h"
#include "services/auth/nonce_counts.h"
#include "sip/msg/headers.h"
#include "sip/msg/message.h"
#include "sip/msg/uri.h"

namespace herald::services::auth {
namespace {

constexpr std::int64_t kT0 = 1'800'000'000;
constexpr std::int64_t kLifetime = NonceFactory::kDefaultLifetime;
std::int64_t g_now = kT0;  // the clock every object here reads

void check(bool condition) {
  if (!condition) std::abort();
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool same_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// The users, in every realm: HA1s are computed from these passwords for the realm asked.
struct User {
  std::string_view name;
  std::string_view password;
  bool md5;     // an HA1 is stored for MD5
  bool sha256;  // and for SHA-256
  bool upper;   // stored in upper-case hex (the Authenticator must accept that)
};
constexpr User kUsers[] = {
    {"alice", "secret", true, true, false},
    {"bob", "bob's \"quoted\" pass\\word", true, false, false},  // MD5 only
    {"carol", "c", true, true, true},
    {"dave", "", false, false, false},  // exists, but no usable HA1: as unknown
};

const User* find_user(std::string_view name) {
  for (const User& u : kUsers) {
    if (u.name == name) return &u;
  }
  return nullptr;
}

bool knows(const User* u, Algorithm alg) {
  return u != nullptr && (alg == Algorithm::kSha256 ? u->sha256 : u->md5);
}

std::optional<Credentials> lookup(std::string_view username, std::string_view realm) {
  const User* u = find_user(username);
  if (u == nullptr) return std::nullopt;
  Credentials c;
  if (u->md5) c.ha1_md5 = ha1(Algorithm::kMd5, u->name, realm, u->password);
  if (u->sha256) c.ha1_sha256 = ha1(Algorithm::kSha256, u->name, realm, u->password);
  if (u->upper) {
    for (char& ch : c.ha1_md5) ch = static_cast<char>(ch >= 'a' && ch <= 'f' ? ch - 'a' + 'A' : ch);
    for (char& ch : c.ha1_sha256) ch = static_cast<char>(ch >= 'a' && ch <= 'f' ? ch - 'a' + 'A' : ch);
  }
  if (username == "dave") c.ha1_md5 = "not hex";
  return c;
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
}

std::optional<sip::Message> parse(std::string text) {
  auto m = sip::parse_message(std::move(text));
  if (!m) return std::nullopt;
  return std::move(m).value();
}

sip::HeaderId wanted(bool proxy) {
  return proxy ? sip::HeaderId::kProxyAuthorization : sip::HeaderId::kAuthorization;
}

std::string_view scheme_of(std::string_view value) { return value.substr(0, value.find_first_of(" \t")); }

// The credentials line the Authenticator's contract says it uses: the first Digest line of
// the header whose realm is `realm`.
std::optional<sip::AuthValue> chosen_line(const sip::Message& m, std::string_view realm, bool proxy) {
  for (const sip::HeaderField& f : m.headers()) {
    if (f.id != wanted(proxy) || !same_ignoring_case(scheme_of(f.value), "Digest")) continue;
    auto a = sip::parse_auth(f.value);
    if (!a) return std::nullopt;
    auto r = a->param("realm");
    if (r && unescape_quoted(*r) == realm) return *a;
  }
  return std::nullopt;
}

std::optional<Algorithm> algorithm_of(const sip::AuthValue& a) {
  auto name = a.param("algorithm");
  if (!name) return Algorithm::kMd5;
  if (same_ignoring_case(*name, "MD5")) return Algorithm::kMd5;
  if (same_ignoring_case(*name, "SHA-256")) return Algorithm::kSha256;
  return std::nullopt;
}

// The request-digest of `a`'s fields for `method` with `user`'s real password (or none).
std::string right_response(const sip::AuthValue& a, std::string_view realm, std::string_view method) {
  const Algorithm alg = algorithm_of(a).value_or(Algorithm::kMd5);
  const std::string user = unescape_quoted(a.param("username").value_or(""));
  const User* u = find_user(user);
  const std::string a1 = ha1(alg, user, realm, u != nullptr ? u->password : "no password");
  return response(alg, a1, unescape_quoted(a.param("nonce").value_or("")), a.param("nc").value_or(""),
                  unescape_quoted(a.param("cnonce").value_or("")), a.param("qop").value_or(""),
                  ha2(alg, method, unescape_quoted(a.param("uri").value_or(""))));
}

bool is_hex(std::string_view s, std::size_t length) {
  if (s.size() != length) return false;
  for (char c : s) {
    const char l = lower(c);
    if (!((l >= '0' && l <= '9') || (l >= 'a' && l <= 'f'))) return false;
  }
  return true;
}

std::string lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

// What authenticator.h says verify() answers for `m` when it has exactly one line of
// credentials (nullopt for other requests). `issued` is the one nonce issued for `realm`;
// `uses` the number of times these credentials were accepted before.
std::optional<Outcome> expected_outcome(const sip::Message& m, std::string_view realm, bool proxy,
                                        std::string_view issued, int uses) {
  if (realm.empty()) return Outcome::kMalformed;
  const sip::HeaderField* line = nullptr;
  for (const sip::HeaderField& f : m.headers()) {
    if (f.id != wanted(proxy)) continue;
    if (line != nullptr) return std::nullopt;
    line = &f;
  }
  if (line == nullptr || !same_ignoring_case(scheme_of(line->value), "Digest")) return Outcome::kNoCredentials;
  auto a = sip::parse_auth(line->value);
  if (!a) return Outcome::kMalformed;
  auto r = a->param("realm");
  if (!r) return Outcome::kMalformed;
  if (unescape_quoted(*r) != realm) return Outcome::kWrongRealm;

  auto username = a->param("username");
  auto nonce = a->param("nonce");
  auto uri = a->param("uri");
  auto client_response = a->param("response");
  if (!username || !nonce || nonce->empty() || !uri || uri->empty() || !client_response) return Outcome::kMalformed;
  auto alg = algorithm_of(*a);
  if (!alg) return Outcome::kUnsupportedAlgorithm;
  auto qop = a->param("qop");
  if (!qop || !same_ignoring_case(*qop, "auth")) return Outcome::kMalformed;
  auto nc = a->param("nc");
  if (!nc || !is_hex(*nc, 8) || *nc == "00000000") return Outcome::kMalformed;
  auto cnonce = a->param("cnonce");
  if (!cnonce || cnonce->empty()) return Outcome::kMalformed;
  if (!is_hex(*client_response, hex_length(*alg))) return Outcome::kMalformed;
  const std::string uri_text = unescape_quoted(*uri);
  auto digest_uri = sip::parse_uri(uri_text);
  const bool same_uri = digest_uri && m.request_uri() ? sip::uri_equal(*digest_uri, *m.request_uri())
                                                      : uri_text == m.request_uri_text();
  if (!same_uri) return Outcome::kMalformed;

  const std::string user = unescape_quoted(*username);
  const User* u = find_user(user);
  if (!knows(u, *alg) || lowered(*client_response) != right_response(*a, realm, m.method_name())) {
    return Outcome::kBadCredentials;
  }
  const std::int64_t age = g_now - kT0;
  if (unescape_quoted(*nonce) != issued || age > kLifetime || age < -kLifetime) return Outcome::kStale;
  return uses == 0 ? Outcome::kOk : Outcome::kReplay;
}

bool usable_as_reason_phrase(std::string_view s) {
  for (char c : s) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

// The nonce of a fresh challenge for `realm`, checked to read back as what it says.
std::string challenge_nonce(const Authenticator& auth, std::string_view realm, bool proxy) {
  const Challenge c = auth.challenge(realm, false, proxy);
  check(c.header == (proxy ? sip::HeaderId::kProxyAuthenticate : sip::HeaderId::kWwwAuthenticate));
  check(c.values.size() == auth.algorithms().size());
  std::string nonce;
  for (const std::string& value : c.values) {
    auto a = sip::parse_auth(value);
    check(a.ok() && a->scheme == "Digest");
    auto r = a->param("realm");
    auto n = a->param("nonce");
    check(r && unescape_quoted(*r) == realm && n && n->size() == NonceFactory::kEncodedSize);
    check(nonce.empty() || nonce == *n);  // one nonce for every algorithm offered
    nonce = std::string(*n);
  }
  return nonce;
}

// Verifies the request `text` (placeholders not yet substituted) and checks the verdict.
void verify_request(std::string text, bool proxy, bool right_digest_possible) {
  g_now = kT0;
  const NonceFactory nonces([] { return g_now; }, kLifetime);  // random secret
  NonceCounts counts([] { return g_now; }, kLifetime);
  Authenticator auth(nonces, counts, lookup);

  auto first = parse(text);
  if (!first) return;
  replace_all(text, "@URI@", first->request_uri_text());
  auto with_uri = parse(text);
  if (!with_uri) return;
  // The nonce is issued for the realm of the request as it stands; should substituting it
  // change the realm (a nonce in the To host), the Authenticator must find it not ours.
  const std::string issued_realm = auth.realm_for(*with_uri);
  std::string issued;
  if (!issued_realm.empty()) issued = challenge_nonce(auth, issued_realm, proxy);
  replace_all(text, "@NONCE@", issued);
  if (text.find("@RESPONSE@") != std::string::npos) {
    auto with_nonce = parse(text);
    if (!with_nonce) return;
    const std::string realm = auth.realm_for(*with_nonce);
    auto line = chosen_line(*with_nonce, realm, proxy);
    replace_all(text, "@RESPONSE@", line ? right_response(*line, realm, with_nonce->method_name()) : "");
  }
  auto request = parse(text);
  if (!request) return;
  const std::string realm = auth.realm_for(*request);
  if (realm != issued_realm) issued.clear();  // not valid for this realm

  const Verdict v = auth.verify(*request, proxy);
  check(v.realm == realm);
  if (v.outcome == Outcome::kMalformed) check(!v.reason.empty());
  check(usable_as_reason_phrase(v.reason));
  if (!right_digest_possible) {
    check(v.outcome != Outcome::kOk && v.outcome != Outcome::kStale && v.outcome != Outcome::kReplay);
  }
  if (auto expected = expected_outcome(*request, realm, proxy, issued, 0)) check(v.outcome == *expected);
  if (!v.ok()) return;

  // Accepted: only for a known user, with the digest of that user's password.
  auto line = chosen_line(*request, realm, proxy);
  check(line.has_value());
  const User* u = find_user(v.username);
  check(knows(u, v.algorithm) && algorithm_of(*line) == v.algorithm);
  check(unescape_quoted(line->param("username").value_or("")) == v.username);
  check(lowered(line->param("response").value_or("")) == right_response(*line, realm, request->method_name()));
  check(unescape_quoted(line->param("nonce").value_or("")) == issued);

  // The same credentials again: a replay.
  const Verdict again = auth.verify(*request, proxy);
  check(again.outcome == Outcome::kReplay && again.stale_challenge());
  if (auto expected = expected_outcome(*request, realm, proxy, issued, 1)) check(again.outcome == *expected);

  // The nonce past its lifetime, and a nonce dated further in the future than a lifetime:
  // the digest is right, so kStale (and never kOk), whatever the nonce counts say.
  for (std::int64_t now : {kT0 + kLifetime + 1, kT0 - kLifetime - 1}) {
    g_now = now;
    NonceCounts fresh([] { return g_now; }, kLifetime);
    Authenticator later(nonces, fresh, lookup);
    const Verdict late = later.verify(*request, proxy);
    check(late.outcome == Outcome::kStale && late.stale_challenge());
    if (auto expected = expected_outcome(*request, realm, proxy, issued, 0)) check(late.outcome == *expected);
  }
  g_now = kT0;
}

constexpr std::string_view kRegister =
    "REGISTER sip:example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKfuzz\r\n"
    "Max-Forwards: 70\r\n"
    "To: <sip:alice@example.com>\r\n"
    "From: <sip:alice@example.com>;tag=1928301774\r\n"
    "Call-ID: a84b4c76e66710@192.0.2.10\r\n"
    "CSeq: 1 REGISTER\r\n"
    "Contact: <sip:alice@192.0.2.10>\r\n";
constexpr std::string_view kMessage =
    "MESSAGE sip:bob@example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKfuzz\r\n"
    "Max-Forwards: 70\r\n"
    "To: <sip:bob@example.com>\r\n"
    "From: <sip:alice@example.com>;tag=1928301774\r\n"
    "Call-ID: a84b4c76e66710@192.0.2.10\r\n"
    "CSeq: 1 MESSAGE\r\n";

void run(std::string_view input) {
  const bool right_digest_possible = input.find("@RESPONSE@") != std::string_view::npos;
  for (const bool proxy : {false, true}) {
    const std::string_view fixed = proxy ? kMessage : kRegister;
    const std::string_view header = proxy ? "Proxy-Authorization: " : "Authorization: ";
    // The input as the header's value.
    std::string text(fixed);
    text.append(header).append(input).append("\r\nContent-Length: 0\r\n\r\n");
    verify_request(std::move(text), proxy, right_digest_possible);
    // The input as the whole header block.
    std::string block(fixed.substr(0, fixed.find("\r\n") + 2));
    block.append(input).append("\r\n\r\n");
    verify_request(std::move(block), proxy, right_digest_possible);
  }
}

}  // namespace
}  // namespace herald::services::auth

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  herald::services::auth::run(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
