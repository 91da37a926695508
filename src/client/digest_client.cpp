#include "client/digest_client.h"

#include <fmt/format.h>

#include "sip/msg/grammar.h"
#include "sip/msg/headers.h"

namespace herald::client {
namespace {

using services::auth::Algorithm;
using sip::grammar::iequals;

// qop-options is a quoted, comma-separated list: "auth,auth-int".
bool offers_auth(std::string_view qop) {
  bool found = false;
  sip::grammar::for_each_list_element(qop, [&](std::string_view option) {
    found = iequals(option, "auth");
    return !found;
  });
  return found;
}

std::optional<DigestChallenge> read_challenge(const sip::AuthValue& value, bool proxy) {
  if (!iequals(value.scheme, "Digest")) return std::nullopt;
  auto realm = value.param("realm");
  auto nonce = value.param("nonce");
  if (!realm || !nonce) return std::nullopt;
  DigestChallenge c;
  c.proxy = proxy;
  auto algorithm = value.param("algorithm");
  if (algorithm) {
    auto parsed = services::auth::parse_algorithm(*algorithm);
    if (!parsed) return std::nullopt;
    c.algorithm = *parsed;
  }
  c.realm = services::auth::unescape_quoted(*realm);
  c.nonce = services::auth::unescape_quoted(*nonce);
  if (auto opaque = value.param("opaque")) {
    c.opaque = services::auth::unescape_quoted(*opaque);
    c.has_opaque = true;
  }
  if (auto qop = value.param("qop")) {
    c.qop_auth = offers_auth(*qop);
    if (!c.qop_auth) return std::nullopt;  // auth-int only: not supported
  }
  auto stale = value.param("stale");
  c.stale = stale && iequals(*stale, "true");
  return c;
}

}  // namespace

std::optional<DigestChallenge> pick_challenge(const sip::Message& response) {
  const bool proxy = response.status_code() == 407;
  const sip::HeaderId wanted = proxy ? sip::HeaderId::kProxyAuthenticate : sip::HeaderId::kWwwAuthenticate;
  std::optional<DigestChallenge> md5;
  for (const sip::HeaderField& field : response.headers()) {
    if (field.id != wanted) continue;
    auto value = sip::parse_auth(field.value);
    if (!value) continue;
    auto challenge = read_challenge(*value, proxy);
    if (!challenge) continue;
    if (challenge->algorithm == Algorithm::kSha256) return challenge;
    if (!md5) md5 = std::move(challenge);
  }
  return md5;
}

std::string credentials(const DigestChallenge& challenge, std::string_view username, std::string_view password,
                        std::string_view method, std::string_view uri, std::uint32_t nc, std::string_view cnonce) {
  using services::auth::quote;
  const Algorithm alg = challenge.algorithm;
  const std::string a1 = services::auth::ha1(alg, username, challenge.realm, password);
  const std::string a2 = services::auth::ha2(alg, method, uri);
  std::string out = fmt::format("Digest username={}, realm={}, nonce={}, uri={}", quote(username),
                                quote(challenge.realm), quote(challenge.nonce), quote(uri));
  if (challenge.qop_auth) {
    const std::string nc_text = fmt::format("{:08x}", nc);
    fmt::format_to(std::back_inserter(out), ", response=\"{}\", algorithm={}, cnonce={}, qop=auth, nc={}",
                   services::auth::response(alg, a1, challenge.nonce, nc_text, cnonce, "auth", a2),
                   services::auth::algorithm_name(alg), quote(cnonce), nc_text);
  } else {
    fmt::format_to(std::back_inserter(out), ", response=\"{}\", algorithm={}",
                   services::auth::response_rfc2069(alg, a1, challenge.nonce, a2), services::auth::algorithm_name(alg));
  }
  if (challenge.has_opaque) fmt::format_to(std::back_inserter(out), ", opaque={}", quote(challenge.opaque));
  return out;
}

}  // namespace herald::client
