// libFuzzer target: parse_message and everything a server does with what it parsed.
//
// Aborts (so libFuzzer reports the input) when a documented property does not hold:
//   - serialize(m) parses again;
//   - for a message without defect(), parse_message(serialize(m)) gives the same start line,
//     headers (id, name, value, order), body and no defect (message.h);
//   - make_response() of a request serializes into a message that parses, and is usable;
//   - Message::request_uri() agrees with parse_uri(request_uri_text()).

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "fuzz_touch.h"
#include "sip/msg/message.h"
#include "sip/msg/validate.h"

namespace herald::sip::fuzz {
namespace {

template <class H>
void exercise(const Message& m) {
  touch(m.get<H>());
  touch(m.count(H::kId));
  auto r = m.for_each<H>([](const typename H::Value& v) {
    touch(v);
    return true;
  });
  touch(r.why());
  // Stop after the first value: exercises the early exit.
  m.for_each<H>([](const typename H::Value&) { return false; });
  auto all = m.get_all<H>();
  if (all.ok()) touch(all->size());
  // by name, as written by Herald
  if (const HeaderField* f = m.find(header_info(H::kId).name)) touch(f->value);
}

template <class... H>
void exercise_all(const Message& m) {
  (exercise<H>(m), ...);
}

void exercise_headers(const Message& m) {
  exercise_all<hdr::Accept, hdr::Allow, hdr::AllowEvents, hdr::Authorization, hdr::CallId, hdr::Contact,
               hdr::ContentLength, hdr::ContentType, hdr::CSeq, hdr::Date, hdr::Event, hdr::Expires, hdr::From,
               hdr::MaxForwards, hdr::MinExpires, hdr::Path, hdr::ProxyAuthenticate, hdr::ProxyAuthorization,
               hdr::ProxyRequire, hdr::RecordRoute, hdr::ReferTo, hdr::ReferredBy, hdr::Require, hdr::RetryAfter,
               hdr::Route, hdr::Server, hdr::SipETag, hdr::SipIfMatch, hdr::Subject, hdr::SubscriptionState,
               hdr::Supported, hdr::To, hdr::Unsupported, hdr::UserAgent, hdr::Via, hdr::WwwAuthenticate>(m);
  for (const HeaderField& f : m.headers()) {
    touch(f.name);
    touch(f.value);
    if (const HeaderField* g = m.find(f.name); g == nullptr) std::abort();  // findable by its own name
  }
}

void touch_message(const Message& m) {
  touch(m.method_name());
  touch(m.request_uri_text());
  touch(m.reason_phrase());
  touch(m.version());
  touch(m.body());
  touch(m.defect());
  touch(m.request_uri());
}

bool same(const Message& a, const Message& b) {
  if (a.is_request() != b.is_request() || a.method_name() != b.method_name() || a.method() != b.method() ||
      a.request_uri_text() != b.request_uri_text() || a.status_code() != b.status_code() ||
      a.reason_phrase() != b.reason_phrase() || a.version() != b.version() || a.body() != b.body() ||
      a.defect() != b.defect() || a.headers().size() != b.headers().size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.headers().size(); ++i) {
    const HeaderField& x = a.headers()[i];
    const HeaderField& y = b.headers()[i];
    if (x.id != y.id || x.name != y.name || x.value != y.value) return false;
  }
  return true;
}

// parse_message(serialize(m)) must succeed; returns the reparsed message.
Message reparse(const Message& m) {
  auto again = parse_message(serialize(m));
  if (!again) std::abort();
  return std::move(again).value();
}

}  // namespace
}  // namespace herald::sip::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace herald::sip;
  using namespace herald::sip::fuzz;

  auto parsed = parse_message(std::string(reinterpret_cast<const char*>(data), size));
  if (!parsed) {
    touch(parsed.why());
    return 0;
  }
  const Message& m = parsed.value();
  touch_message(m);
  exercise_headers(m);

  // Round trip.
  Message again = reparse(m);
  if (m.defect().empty() && !same(m, again)) std::abort();

  if (m.is_request()) {
    RequestCheck check = check_request(m);
    touch(check.reason);
    if (check.ok() != (check.status_code == 0)) std::abort();
    auto uri = parse_uri(m.request_uri_text());
    if (uri.ok() != m.request_uri().ok()) std::abort();
    touch(uri);

    for (int code : {100, 180, 200, 401, 481}) {
      Message r = make_response(m, code, code == 481 ? "" : "Fuzz Reason", "fuzztag");
      touch_message(r);
      exercise_headers(r);
      Message r2 = reparse(r);
      if (!r2.is_response() || r2.status_code() != code) std::abort();
      touch(response_usable(r2));
    }
    // A copy survives the original; edits on it leave the original intact.
    Message copy = m;
    copy.prepend(HeaderId::kVia, "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKfuzz;rport");
    copy.pop_first_value(HeaderId::kVia);
    copy.pop_first_value(HeaderId::kRoute);
    copy.set(HeaderId::kMaxForwards, "69");
    copy.set_body("text/plain", "hello");
    Message copy2 = reparse(copy);
    if (copy2.body() != "hello") std::abort();
    exercise_headers(copy);
  } else {
    touch(response_usable(m));
  }
  return 0;
}
