#pragma once

// HTTP Digest computations for SIP (RFC 3261 §22.4, RFC 2617 §3.2.2, RFC 7616 §3.4.1,
// RFC 8760 for SHA-256 in SIP). Pure functions; no state, safe from any thread.
//
//   std::string a1 = ha1(Algorithm::kSha256, "alice", "example.com", "secret");
//   std::string a2 = ha2(Algorithm::kSha256, "REGISTER", "sip:example.com");
//   std::string r = response(Algorithm::kSha256, a1, nonce, "00000001", cnonce, "auth", a2);
//
// Every digest is lower-case hex (LHEX): 32 characters for MD5, 64 for SHA-256.
// Inputs are the unquoted values (quotes and quoted-pair backslashes removed).

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace herald::services::auth {

// The algorithms Herald offers. The "-sess" variants and SHA-512-256 are not supported.
enum class Algorithm { kMd5, kSha256 };

// "MD5" or "SHA-256", as written in the algorithm= parameter.
std::string_view algorithm_name(Algorithm algorithm);
// Case-insensitive "MD5" / "SHA-256"; nullopt for anything else (including "MD5-sess").
std::optional<Algorithm> parse_algorithm(std::string_view name);
// Length of a hex digest: 32 for MD5, 64 for SHA-256.
std::size_t hex_length(Algorithm algorithm);

// H(data) in lower-case hex.
std::string hex_digest(Algorithm algorithm, std::string_view data);

// HA1 = H(username ":" realm ":" password).
std::string ha1(Algorithm algorithm, std::string_view username, std::string_view realm,
                std::string_view password);

// HA2 = H(method ":" digest-uri), for qop=auth (or no qop); auth-int is not supported.
std::string ha2(Algorithm algorithm, std::string_view method, std::string_view digest_uri);

// request-digest with qop: H(HA1 ":" nonce ":" nc ":" cnonce ":" qop ":" HA2).
std::string response(Algorithm algorithm, std::string_view ha1, std::string_view nonce,
                     std::string_view nc, std::string_view cnonce, std::string_view qop,
                     std::string_view ha2);

// request-digest without qop (RFC 2069 compatibility): H(HA1 ":" nonce ":" HA2).
// Offered for clients and tests; the Authenticator does not accept it (see authenticator.h).
std::string response_rfc2069(Algorithm algorithm, std::string_view ha1, std::string_view nonce,
                             std::string_view ha2);

// The value of a quoted-string with its quoted-pairs resolved (a\"b → a"b); `s` is the
// text between the quotes.
std::string unescape_quoted(std::string_view s);
// A quoted-string holding `s` (quotes added, '"' and '\\' escaped).
std::string quote(std::string_view s);

}  // namespace herald::services::auth
