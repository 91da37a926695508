#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "services/auth/digest.h"
#include "sip/msg/message.h"

// The client side of SIP digest authentication (RFC 3261 §22.2–22.3, RFC 8760): choosing a
// challenge from a 401 or 407 and writing the credentials that answer it. Pure.
namespace herald::client {

struct DigestChallenge {
  bool proxy = false;  // from Proxy-Authenticate (answer in Proxy-Authorization)
  services::auth::Algorithm algorithm = services::auth::Algorithm::kMd5;
  std::string realm;
  std::string nonce;
  std::string opaque;  // empty when absent
  bool has_opaque = false;
  bool qop_auth = false;  // qop offered and includes "auth"
  bool stale = false;
  std::uint32_t nonce_count = 0;  // how many requests have used this nonce
};

// The challenge to answer among the WWW-Authenticate (401) or Proxy-Authenticate (407)
// values of `response`: SHA-256 before MD5, the first of each; other schemes and algorithms
// (MD5-sess, auth-int only) are skipped. nullopt when none can be answered.
std::optional<DigestChallenge> pick_challenge(const sip::Message& response);

// The Authorization / Proxy-Authorization value answering `challenge` for a request with
// `method` and Request-URI `uri`, with nonce count `nc` and client nonce `cnonce` (used only
// with qop=auth).
std::string credentials(const DigestChallenge& challenge, std::string_view username, std::string_view password,
                        std::string_view method, std::string_view uri, std::uint32_t nc, std::string_view cnonce);

}  // namespace herald::client
