#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace herald::sip {

// Every header Herald reads or writes by type. Declared once here, with its name, compact
// form and defining RFC in kHeaderTable (header_table.cpp); typed accessors in headers.h
// are derived from these ids. Headers not listed are kOther and pass through untouched.
enum class HeaderId : std::uint8_t {
  kOther,
  kAccept,
  kAcceptEncoding,
  kAcceptLanguage,
  kAllow,
  kAllowEvents,
  kAuthorization,
  kCallId,
  kContact,
  kContentDisposition,
  kContentEncoding,
  kContentLength,
  kContentType,
  kCSeq,
  kDate,
  kEvent,
  kExpires,
  kFrom,
  kMaxForwards,
  kMinExpires,
  kPath,
  kProxyAuthenticate,
  kProxyAuthorization,
  kProxyRequire,
  kRecordRoute,
  kReferTo,
  kReferredBy,
  kRequire,
  kRetryAfter,
  kRoute,
  kServer,
  kSipETag,
  kSipIfMatch,
  kSubject,
  kSubscriptionState,
  kSupported,
  kTimestamp,
  kTo,
  kUnsupported,
  kUserAgent,
  kVia,
  kWarning,
  kWwwAuthenticate,
  kCount,
};

struct HeaderInfo {
  HeaderId id;
  std::string_view name;  // canonical spelling, used when Herald writes the header
  char compact;           // compact form (RFC 3261 §7.3.3 and extensions), 0 if none
  bool list;              // values may be comma-joined on one line (RFC 3261 §7.3.1)
  std::string_view rfc;   // where the header is defined
};

inline constexpr std::size_t kHeaderCount = static_cast<std::size_t>(HeaderId::kCount);

inline constexpr std::array<HeaderInfo, kHeaderCount> kHeaderTable = {{
    {HeaderId::kOther, "", 0, false, ""},
    {HeaderId::kAccept, "Accept", 0, true, "RFC 3261 §20.1"},
    {HeaderId::kAcceptEncoding, "Accept-Encoding", 0, true, "RFC 3261 §20.2"},
    {HeaderId::kAcceptLanguage, "Accept-Language", 0, true, "RFC 3261 §20.3"},
    {HeaderId::kAllow, "Allow", 0, true, "RFC 3261 §20.5"},
    {HeaderId::kAllowEvents, "Allow-Events", 'u', true, "RFC 6665 §8.2.2"},
    {HeaderId::kAuthorization, "Authorization", 0, false, "RFC 3261 §20.7"},
    {HeaderId::kCallId, "Call-ID", 'i', false, "RFC 3261 §20.8"},
    {HeaderId::kContact, "Contact", 'm', true, "RFC 3261 §20.10"},
    {HeaderId::kContentDisposition, "Content-Disposition", 0, false, "RFC 3261 §20.11"},
    {HeaderId::kContentEncoding, "Content-Encoding", 'e', true, "RFC 3261 §20.12"},
    {HeaderId::kContentLength, "Content-Length", 'l', false, "RFC 3261 §20.14"},
    {HeaderId::kContentType, "Content-Type", 'c', false, "RFC 3261 §20.15"},
    {HeaderId::kCSeq, "CSeq", 0, false, "RFC 3261 §20.16"},
    {HeaderId::kDate, "Date", 0, false, "RFC 3261 §20.17"},
    {HeaderId::kEvent, "Event", 'o', false, "RFC 6665 §8.2.1"},
    {HeaderId::kExpires, "Expires", 0, false, "RFC 3261 §20.19"},
    {HeaderId::kFrom, "From", 'f', false, "RFC 3261 §20.20"},
    {HeaderId::kMaxForwards, "Max-Forwards", 0, false, "RFC 3261 §20.22"},
    {HeaderId::kMinExpires, "Min-Expires", 0, false, "RFC 3261 §20.23"},
    {HeaderId::kPath, "Path", 0, true, "RFC 3327 §4"},
    {HeaderId::kProxyAuthenticate, "Proxy-Authenticate", 0, false, "RFC 3261 §20.27"},
    {HeaderId::kProxyAuthorization, "Proxy-Authorization", 0, false, "RFC 3261 §20.28"},
    {HeaderId::kProxyRequire, "Proxy-Require", 0, true, "RFC 3261 §20.29"},
    {HeaderId::kRecordRoute, "Record-Route", 0, true, "RFC 3261 §20.30"},
    {HeaderId::kReferTo, "Refer-To", 'r', false, "RFC 3515 §2.1"},
    {HeaderId::kReferredBy, "Referred-By", 'b', false, "RFC 3892 §3"},
    {HeaderId::kRequire, "Require", 0, true, "RFC 3261 §20.32"},
    {HeaderId::kRetryAfter, "Retry-After", 0, false, "RFC 3261 §20.33"},
    {HeaderId::kRoute, "Route", 0, true, "RFC 3261 §20.34"},
    {HeaderId::kServer, "Server", 0, false, "RFC 3261 §20.35"},
    {HeaderId::kSipETag, "SIP-ETag", 0, false, "RFC 3903 §11.3.1"},
    {HeaderId::kSipIfMatch, "SIP-If-Match", 0, false, "RFC 3903 §11.3.2"},
    {HeaderId::kSubject, "Subject", 's', false, "RFC 3261 §20.36"},
    {HeaderId::kSubscriptionState, "Subscription-State", 0, false, "RFC 6665 §8.2.3"},
    {HeaderId::kSupported, "Supported", 'k', true, "RFC 3261 §20.37"},
    {HeaderId::kTimestamp, "Timestamp", 0, false, "RFC 3261 §20.38"},
    {HeaderId::kTo, "To", 't', false, "RFC 3261 §20.39"},
    {HeaderId::kUnsupported, "Unsupported", 0, true, "RFC 3261 §20.40"},
    {HeaderId::kUserAgent, "User-Agent", 0, false, "RFC 3261 §20.41"},
    {HeaderId::kVia, "Via", 'v', true, "RFC 3261 §20.42"},
    {HeaderId::kWarning, "Warning", 0, true, "RFC 3261 §20.43"},
    {HeaderId::kWwwAuthenticate, "WWW-Authenticate", 0, false, "RFC 3261 §20.44"},
}};

constexpr bool header_table_in_id_order() {
  for (std::size_t i = 0; i < kHeaderCount; ++i) {
    if (static_cast<std::size_t>(kHeaderTable[i].id) != i) return false;
  }
  return true;
}
static_assert(header_table_in_id_order(), "kHeaderTable must list headers in HeaderId order");

constexpr const HeaderInfo& header_info(HeaderId id) {
  return kHeaderTable[static_cast<std::size_t>(id)];
}

// The id for a header name as received: case-insensitive, compact forms included.
HeaderId header_id(std::string_view name);

}  // namespace herald::sip
