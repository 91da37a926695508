#pragma once

// Helpers shared by the fuzz targets: read every byte a parsed value points at, so that
// AddressSanitizer sees a view that runs outside its message, and call each accessor.

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "sip/msg/headers.h"
#include "sip/msg/uri.h"

namespace herald::sip::fuzz {

// Sink for values the optimizer must not drop.
inline volatile std::uint64_t g_sink = 0;

inline void touch(std::string_view s) {
  std::uint64_t h = s.size();
  for (char c : s) h = h * 31 + static_cast<unsigned char>(c);
  g_sink = g_sink + h;
}

inline void touch(const std::string& s) { touch(std::string_view(s)); }

inline void touch(std::uint64_t v) { g_sink = g_sink + v; }

inline void touch(const std::optional<std::string_view>& s) {
  if (s) touch(*s);
}

inline void touch(const ParamList& params) {
  touch(params.raw());
  params.for_each([](const Param& p) {
    touch(p.name);
    touch(p.value);
    touch(unquote(p.value));
    return true;
  });
  touch(params.find("tag"));
  touch(params.find("branch"));
}

inline void touch(const Uri& uri) {
  touch(uri.text);
  touch(uri.scheme_name);
  touch(uri.user);
  touch(uri.password);
  touch(uri.host);
  touch(uri.headers);
  touch(uri.opaque);
  touch(uri.port);
  touch(uri.params);
  touch(uri.transport());
  touch(uri.param("lr"));
  touch(unescape(uri.user));
  touch(unescape(uri.text));
  touch(address_of_record(uri));
  // Every URI equals itself (RFC 3261 §19.1.4 is reflexive for what parse_uri accepts).
  if (!uri_equal(uri, uri)) std::abort();
}

inline void touch(const NameAddr& na) {
  touch(na.display_name);
  touch(na.uri);
  touch(na.params);
  touch(na.tag());
}

inline void touch(const ViaValue& v) {
  touch(v.protocol_name);
  touch(v.protocol_version);
  touch(v.transport);
  touch(v.host);
  touch(v.port);
  touch(v.params);
  touch(v.branch());
  touch(v.received());
  touch(v.rport());
  touch(v.maddr());
  touch(v.rfc3261_branch());
}

inline void touch(const ContactValue& c) {
  touch(c.star);
  touch(c.address);
  if (auto e = c.expires()) touch(*e);
  if (auto q = c.q()) touch(static_cast<std::uint64_t>(*q));
}

inline void touch(const CSeqValue& c) {
  touch(c.number);
  touch(c.method_name);
  touch(static_cast<std::uint64_t>(c.method));
  touch(method_name(c.method));
}

inline void touch(const EventValue& e) {
  touch(e.package);
  touch(e.params);
  touch(e.id());
}

inline void touch(const SubscriptionStateValue& s) {
  touch(s.state);
  touch(s.params);
  touch(s.reason());
  if (auto e = s.expires()) touch(*e);
  if (auto r = s.retry_after()) touch(*r);
}

inline void touch(const MediaType& m) {
  touch(m.type);
  touch(m.subtype);
  touch(m.params);
  touch(m.matches("application/pidf+xml"));
  touch(m.matches("text"));
  touch(m.matches(""));
}

inline void touch(const AuthValue& a) {
  touch(a.scheme);
  touch(a.params);
  for (std::string_view name : {"realm", "nonce", "username", "uri", "response", "qop", "nc", "cnonce",
                                "algorithm", "opaque", "stale", ""}) {
    touch(a.param(name));
  }
}

inline void touch(const RetryAfterValue& r) {
  touch(r.seconds);
  touch(r.comment);
  touch(r.params);
}

template <class T>
void touch(const Parsed<T>& p) {
  touch(p.why());
  if (p.ok()) touch(p.value());
}

}  // namespace herald::sip::fuzz
