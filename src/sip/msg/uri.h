#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "sip/msg/params.h"
#include "sip/msg/parsed.h"

namespace herald::sip {

enum class UriScheme : std::uint8_t { kSip, kSips, kTel, kOther };

// A parsed URI (RFC 3261 §19.1, RFC 3966 for tel:, RFC 3986 absoluteURI for the rest).
// Every field is a view into the text it was parsed from and keeps its escapes as written
// (compare with uri_equal(), not ==). Lifetime: that text must outlive the Uri.
struct Uri {
  UriScheme scheme = UriScheme::kOther;
  std::string_view text;         // the whole URI as written
  std::string_view scheme_name;  // "sip", "SIPS", "tel", "http" …
  // sip / sips
  std::string_view user;  // escaped; empty when there is no userinfo
  std::string_view password;
  bool has_user = false;
  bool has_password = false;
  std::string_view host;  // an IPv6 reference without its brackets
  bool ipv6 = false;
  std::uint16_t port = 0;  // 0 when absent
  ParamList params;        // ";transport=tcp;lr" (URI syntax); for tel: its parameters
  std::string_view headers;  // after '?', without it; empty when absent
  // tel: the subscriber number (e.g. "+1-201-555-0123"); other schemes: everything after ':'
  std::string_view opaque;

  bool is_sip() const { return scheme == UriScheme::kSip || scheme == UriScheme::kSips; }
  std::string_view param(std::string_view name) const { return params.find(name).value_or(""); }
  bool has_param(std::string_view name) const { return params.has(name); }
  // "udp", "tcp" … from ;transport=, lower case not guaranteed; empty when absent.
  std::string_view transport() const { return param("transport"); }
};

// Parses `text` (no surrounding white space or angle brackets). Malformed reasons are
// short phrases fit for a 400 reason ("bad URI host", "bad URI escape" …).
Parsed<Uri> parse_uri(std::string_view text);

// Percent-decodes `text` (RFC 3986 §2.1). Invalid escapes are copied as written.
std::string unescape(std::string_view text);

// URI equality per RFC 3261 §19.1.4 for sip/sips (user and password case-sensitive after
// unescaping, host case-insensitive, parameters present in both must match, user / ttl /
// method / maddr / transport must match if present in either, headers ignored);
// tel: compares the number without visual separators; other schemes compare case-insensitively.
bool uri_equal(const Uri& a, const Uri& b);

// "sip:user@host" with the host lower-cased and user unescaped: the key that names an
// address of record. sips: maps to the same key as sip:. Empty for non-SIP URIs.
std::string address_of_record(const Uri& uri);

}  // namespace herald::sip
