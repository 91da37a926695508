#include "sip/msg/validate.h"

namespace herald::sip {
namespace {

RequestCheck bad(std::string_view why) { return {400, why}; }

// Checks that H appears as exactly one line and that its value parses.
template <class H>
RequestCheck single(const Message& m, std::string_view missing, std::string_view multiple,
                    std::string_view malformed) {
  std::size_t n = m.count(H::kId);
  if (n == 0) return bad(missing);
  if (n > 1) return bad(multiple);
  if (!m.get<H>()) return bad(malformed);
  return {};
}

// Checks every value of an optional list header.
template <class H>
RequestCheck each(const Message& m, std::string_view malformed) {
  auto r = m.for_each<H>([](const typename H::Value&) { return true; });
  if (r.malformed()) return bad(malformed);
  return {};
}

}  // namespace

RequestCheck check_request(const Message& m) {
  if (!m.defect().empty()) return bad(m.defect());
  if (m.version() != "SIP/2.0") return {505, "Version Not Supported"};
  if (!m.request_uri()) return bad("Malformed Request-URI");
  if (!m.request_uri()->headers.empty()) return bad("Headers not allowed in Request-URI");

  if (!m.has(HeaderId::kVia)) return bad("Missing Via header");
  if (auto r = each<hdr::Via>(m, "Malformed Via header"); !r.ok()) return r;
  if (auto r = single<hdr::From>(m, "Missing From header", "Multiple From headers", "Malformed From header"); !r.ok()) return r;
  if (auto r = single<hdr::To>(m, "Missing To header", "Multiple To headers", "Malformed To header"); !r.ok()) return r;
  if (auto r = single<hdr::CallId>(m, "Missing Call-ID header", "Multiple Call-ID headers", "Malformed Call-ID header"); !r.ok()) return r;
  if (auto r = single<hdr::CSeq>(m, "Missing CSeq header", "Multiple CSeq headers", "Malformed CSeq header"); !r.ok()) return r;

  auto cseq = m.get<hdr::CSeq>();
  if (cseq->method_name != m.method_name()) return bad("CSeq method does not match the request method");

  if (m.count(HeaderId::kMaxForwards) > 1) return bad("Multiple Max-Forwards headers");
  if (m.has(HeaderId::kMaxForwards) && !m.get<hdr::MaxForwards>()) return bad("Malformed Max-Forwards header");
  if (m.count(HeaderId::kContentType) > 1) return bad("Multiple Content-Type headers");
  if (m.has(HeaderId::kContentType) && !m.get<hdr::ContentType>()) return bad("Malformed Content-Type header");
  if (m.count(HeaderId::kContentLength) > 1) return bad("Multiple Content-Length headers");
  if (auto r = each<hdr::Contact>(m, "Malformed Contact header"); !r.ok()) return r;
  if (auto r = each<hdr::Route>(m, "Malformed Route header"); !r.ok()) return r;
  if (auto r = each<hdr::RecordRoute>(m, "Malformed Record-Route header"); !r.ok()) return r;
  if (auto r = each<hdr::Require>(m, "Malformed Require header"); !r.ok()) return r;
  if (auto r = each<hdr::ProxyRequire>(m, "Malformed Proxy-Require header"); !r.ok()) return r;
  return {};
}

bool response_usable(const Message& m) {
  if (!m.is_response() || m.version() != "SIP/2.0") return false;
  if (!m.get<hdr::Via>()) return false;
  if (m.count(HeaderId::kCSeq) != 1 || !m.get<hdr::CSeq>()) return false;
  if (m.count(HeaderId::kCallId) != 1 || !m.get<hdr::CallId>()) return false;
  if (m.count(HeaderId::kFrom) != 1 || !m.get<hdr::From>()) return false;
  if (m.count(HeaderId::kTo) != 1 || !m.get<hdr::To>()) return false;
  return true;
}

}  // namespace herald::sip
