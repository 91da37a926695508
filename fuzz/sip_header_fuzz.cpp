// libFuzzer target: the value parsers on their own (URI, name-addr, Contact, Via, credentials
// and challenges, CSeq, Event, Subscription-State, media types …). Each input is one header
// value; every parser reads it, and list headers are split the way Message::for_each splits.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "fuzz_touch.h"
#include "sip/msg/grammar.h"
#include "sip/msg/headers.h"
#include "sip/msg/uri.h"

namespace herald::sip::fuzz {
namespace {

void parse_all(std::string_view v) {
  touch(parse_uri(v));
  touch(parse_name_addr(v));
  touch(parse_contact(v));
  touch(parse_via(v));
  touch(parse_auth(v));
  touch(parse_cseq(v));
  touch(parse_event(v));
  touch(parse_subscription_state(v));
  touch(parse_media_type(v));
  touch(parse_media_range(v));
  touch(parse_retry_after(v));
  touch(parse_token(v));
  touch(parse_call_id(v));
  touch(parse_date(v));
  touch(parse_max_forwards(v));
  touch(parse_delta_seconds(v));
  touch(parse_content_length(v));
  touch(parse_text(v));
  touch(unescape(v));
  touch(static_cast<std::uint64_t>(header_id(v)));
  ParamList header_params(v, ParamSyntax::kHeader);
  if (header_params.valid()) touch(header_params);
  ParamList uri_params(v, ParamSyntax::kUri);
  if (uri_params.valid()) touch(uri_params);
}

}  // namespace
}  // namespace herald::sip::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace herald::sip;
  std::string_view value(reinterpret_cast<const char*>(data), size);
  fuzz::parse_all(value);
  grammar::for_each_list_element(value, [](std::string_view element) {
    if (!element.empty()) fuzz::parse_all(element);
    return true;
  });

  // Two URIs split at the first NUL compare the same both ways round.
  if (std::size_t nul = value.find('\0'); nul != std::string_view::npos) {
    auto a = parse_uri(value.substr(0, nul));
    auto b = parse_uri(value.substr(nul + 1));
    if (a && b && uri_equal(*a, *b) != uri_equal(*b, *a)) std::abort();
  }
  return 0;
}
