#pragma once

// Typed header values and the `hdr::` tags that tie each HeaderId of header_table.h to its
// value type and parser. Values are views into the message text: valid while the Message
// they came from lives and that header is not edited.
//
//   Parsed<NameAddr> to = msg.get<hdr::To>();
//   if (to.malformed()) reject(400, to.why());

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "sip/msg/header_table.h"
#include "sip/msg/method.h"
#include "sip/msg/params.h"
#include "sip/msg/parsed.h"
#include "sip/msg/uri.h"

namespace herald::sip {

// One via-parm (RFC 3261 §20.42).
struct ViaValue {
  std::string_view protocol_name;     // "SIP"
  std::string_view protocol_version;  // "2.0"
  std::string_view transport;         // "UDP", "TCP", "TLS", "SCTP", "WS" … as written
  std::string_view host;              // sent-by host; IPv6 without brackets
  bool ipv6 = false;
  std::uint16_t port = 0;  // 0 when absent
  ParamList params;

  std::optional<std::string_view> branch() const { return params.find("branch"); }
  std::optional<std::string_view> received() const { return params.find("received"); }
  // Present without value in a request that asks for it (RFC 3581); a value once filled in.
  std::optional<std::string_view> rport() const { return params.find("rport"); }
  std::optional<std::string_view> maddr() const { return params.find("maddr"); }
  // RFC 3261 branches start with the magic cookie.
  bool rfc3261_branch() const;
};

// name-addr or addr-spec with header parameters: From, To, Route, Record-Route, Path,
// Refer-To, Referred-By, and the address part of Contact.
struct NameAddr {
  std::string_view display_name;  // without its quotes (escapes kept); empty when absent
  bool quoted_display_name = false;
  bool angle_brackets = false;  // name-addr form
  Uri uri;
  ParamList params;  // header parameters after the address (;tag=, ;expires=, ;q= …)

  std::optional<std::string_view> tag() const { return params.find("tag"); }
};

// One Contact value: "*" or an address with contact-params.
struct ContactValue {
  bool star = false;
  NameAddr address;

  // ;expires=, saturated at 2^32-1; nullopt when absent.
  std::optional<std::uint32_t> expires() const;
  // ;q= in thousandths (0..1000); nullopt when absent.
  std::optional<int> q() const;
};

struct CSeqValue {
  std::uint32_t number = 0;  // < 2^31 (RFC 3261 §8.1.1.5)
  std::string_view method_name;
  Method method = Method::kOther;
};

// Event (RFC 6665 §8.2.1): package[.template] with parameters (id).
struct EventValue {
  std::string_view package;  // e.g. "presence", "presence.winfo"
  ParamList params;
  std::optional<std::string_view> id() const { return params.find("id"); }
};

// Subscription-State (RFC 6665 §8.2.3).
struct SubscriptionStateValue {
  std::string_view state;  // "active", "pending", "terminated" or an extension
  ParamList params;
  std::optional<std::string_view> reason() const { return params.find("reason"); }
  std::optional<std::uint32_t> expires() const;
  std::optional<std::uint32_t> retry_after() const;
};

// A media type (Content-Type) or media range (one Accept element: "*/*", "text/*").
struct MediaType {
  std::string_view type;
  std::string_view subtype;
  ParamList params;
  // Case-insensitive match against "type/subtype"; wildcards in *this match anything.
  bool matches(std::string_view type_slash_subtype) const;
};

// Credentials or challenge (RFC 3261 §20.7, §20.27, §20.28, §20.44): scheme + auth-params.
struct AuthValue {
  std::string_view scheme;  // "Digest" or another scheme
  std::string_view params;  // comma-separated name=value list, as written
  // The value of auth-param `name` (quotes removed, escapes kept); nullopt when absent.
  std::optional<std::string_view> param(std::string_view name) const;
  // The values of several auth-params in one pass over the list: out[i] is param(names[i])
  // (the first occurrence of the name). `out` has as many elements as `names`.
  void find_params(std::span<const std::string_view> names, std::span<std::optional<std::string_view>> out) const;
};

// Retry-After (RFC 3261 §20.33).
struct RetryAfterValue {
  std::uint32_t seconds = 0;
  std::string_view comment;
  ParamList params;
};

// Parsers, one per value kind. Each takes one value (one list element for list headers)
// without surrounding white space.
Parsed<ViaValue> parse_via(std::string_view text);
Parsed<NameAddr> parse_name_addr(std::string_view text);
Parsed<ContactValue> parse_contact(std::string_view text);
Parsed<CSeqValue> parse_cseq(std::string_view text);
Parsed<EventValue> parse_event(std::string_view text);
Parsed<SubscriptionStateValue> parse_subscription_state(std::string_view text);
Parsed<MediaType> parse_media_type(std::string_view text);
Parsed<MediaType> parse_media_range(std::string_view text);
Parsed<AuthValue> parse_auth(std::string_view text);
Parsed<RetryAfterValue> parse_retry_after(std::string_view text);
Parsed<std::string_view> parse_token(std::string_view text);
Parsed<std::string_view> parse_call_id(std::string_view text);
Parsed<std::string_view> parse_date(std::string_view text);  // rfc1123-date, GMT only
Parsed<std::uint32_t> parse_max_forwards(std::string_view text);  // 0..255
Parsed<std::uint32_t> parse_delta_seconds(std::string_view text);  // saturates at 2^32-1
Parsed<std::uint32_t> parse_content_length(std::string_view text);
// Any text (Subject, User-Agent, Server …): never malformed.
Parsed<std::string_view> parse_text(std::string_view text);

// Binds a HeaderId to its value type and parser. `kList` comes from the header table.
template <HeaderId Id, class V, Parsed<V> (*Parse)(std::string_view)>
struct HeaderDef {
  static constexpr HeaderId kId = Id;
  static constexpr bool kList = header_info(Id).list;
  using Value = V;
  static Parsed<V> parse(std::string_view text) { return Parse(text); }
};

namespace hdr {
using Accept = HeaderDef<HeaderId::kAccept, MediaType, parse_media_range>;
using Allow = HeaderDef<HeaderId::kAllow, std::string_view, parse_token>;
using AllowEvents = HeaderDef<HeaderId::kAllowEvents, std::string_view, parse_token>;
using Authorization = HeaderDef<HeaderId::kAuthorization, AuthValue, parse_auth>;
using CallId = HeaderDef<HeaderId::kCallId, std::string_view, parse_call_id>;
using Contact = HeaderDef<HeaderId::kContact, ContactValue, parse_contact>;
using ContentLength = HeaderDef<HeaderId::kContentLength, std::uint32_t, parse_content_length>;
using ContentType = HeaderDef<HeaderId::kContentType, MediaType, parse_media_type>;
using CSeq = HeaderDef<HeaderId::kCSeq, CSeqValue, parse_cseq>;
using Date = HeaderDef<HeaderId::kDate, std::string_view, parse_date>;
using Event = HeaderDef<HeaderId::kEvent, EventValue, parse_event>;
using Expires = HeaderDef<HeaderId::kExpires, std::uint32_t, parse_delta_seconds>;
using From = HeaderDef<HeaderId::kFrom, NameAddr, parse_name_addr>;
using MaxForwards = HeaderDef<HeaderId::kMaxForwards, std::uint32_t, parse_max_forwards>;
using MinExpires = HeaderDef<HeaderId::kMinExpires, std::uint32_t, parse_delta_seconds>;
using Path = HeaderDef<HeaderId::kPath, NameAddr, parse_name_addr>;
using ProxyAuthenticate = HeaderDef<HeaderId::kProxyAuthenticate, AuthValue, parse_auth>;
using ProxyAuthorization = HeaderDef<HeaderId::kProxyAuthorization, AuthValue, parse_auth>;
using ProxyRequire = HeaderDef<HeaderId::kProxyRequire, std::string_view, parse_token>;
using RecordRoute = HeaderDef<HeaderId::kRecordRoute, NameAddr, parse_name_addr>;
using ReferTo = HeaderDef<HeaderId::kReferTo, NameAddr, parse_name_addr>;
using ReferredBy = HeaderDef<HeaderId::kReferredBy, NameAddr, parse_name_addr>;
using Require = HeaderDef<HeaderId::kRequire, std::string_view, parse_token>;
using RetryAfter = HeaderDef<HeaderId::kRetryAfter, RetryAfterValue, parse_retry_after>;
using Route = HeaderDef<HeaderId::kRoute, NameAddr, parse_name_addr>;
using Server = HeaderDef<HeaderId::kServer, std::string_view, parse_text>;
using SipETag = HeaderDef<HeaderId::kSipETag, std::string_view, parse_token>;
using SipIfMatch = HeaderDef<HeaderId::kSipIfMatch, std::string_view, parse_token>;
using Subject = HeaderDef<HeaderId::kSubject, std::string_view, parse_text>;
using SubscriptionState =
    HeaderDef<HeaderId::kSubscriptionState, SubscriptionStateValue, parse_subscription_state>;
using Supported = HeaderDef<HeaderId::kSupported, std::string_view, parse_token>;
using To = HeaderDef<HeaderId::kTo, NameAddr, parse_name_addr>;
using Unsupported = HeaderDef<HeaderId::kUnsupported, std::string_view, parse_token>;
using UserAgent = HeaderDef<HeaderId::kUserAgent, std::string_view, parse_text>;
using Via = HeaderDef<HeaderId::kVia, ViaValue, parse_via>;
using WwwAuthenticate = HeaderDef<HeaderId::kWwwAuthenticate, AuthValue, parse_auth>;
}  // namespace hdr

}  // namespace herald::sip
