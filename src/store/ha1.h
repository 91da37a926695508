#pragma once

#include <string>
#include <string_view>

#include "store/status.h"
#include "store/store.h"

namespace herald::store {

// The digest algorithms a User carries an HA1 for (RFC 8760 §2).
enum class DigestAlgorithm { kMd5, kSha256 };

// HA1 = H(username ":" realm ":" password) in lower-case hex (RFC 2617 §3.2.2.2,
// RFC 7616 §3.4.2, RFC 3261 §22.4). Fails only if OpenSSL cannot provide the digest
// (e.g. MD5 under a FIPS-only provider).
Result<std::string> compute_ha1(DigestAlgorithm algorithm, std::string_view username,
                                std::string_view realm, std::string_view password);

// The digest username of an AOR: its user part, "alice" for "sip:alice@example.com"
// (scheme "sip:"/"sips:" optional, taken as written, no unescaping). kInvalidArgument if
// the AOR has no user part.
Result<std::string> username_of(std::string_view aor);

// A User for aor and realm with both HA1s computed from password.
Result<User> make_user(std::string_view aor, std::string_view realm, std::string_view password);

}  // namespace herald::store
