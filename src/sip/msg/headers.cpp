#include "sip/msg/headers.h"

#include <limits>

#include "sip/msg/grammar.h"

namespace herald::sip {
namespace {

using grammar::iequals;
using grammar::is_digit;
using grammar::skip_ws;
using grammar::take_token;

constexpr std::uint64_t kU32Max = std::numeric_limits<std::uint32_t>::max();

// Decimal digits saturated at 2^32-1; nullopt when not all digits.
std::optional<std::uint32_t> saturating_u32(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (!is_digit(c)) return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
    if (v > kU32Max) v = kU32Max + 1;  // keep it from overflowing; clamped below
  }
  return static_cast<std::uint32_t>(v > kU32Max ? kU32Max : v);
}

bool valid_host_chars(std::string_view h) {
  if (h.empty()) return false;
  for (char c : h) {
    if (!grammar::is_alnum(c) && c != '-' && c != '.' && c != '_') return false;
  }
  return true;
}

bool valid_ip_literal(std::string_view h) {
  if (h.empty()) return false;
  for (char c : h) {
    if (!grammar::is_hex(c) && c != '.' && c != ':') return false;
  }
  return true;
}

// Takes "[v6]" or a hostname/IPv4 from the front of s.
bool take_host(std::string_view& s, std::string_view& host, bool& ipv6) {
  if (!s.empty() && s.front() == '[') {
    std::size_t close = s.find(']');
    if (close == std::string_view::npos) return false;
    host = s.substr(1, close - 1);
    ipv6 = true;
    s.remove_prefix(close + 1);
    return valid_ip_literal(host);
  }
  std::size_t n = 0;
  while (n < s.size() && (grammar::is_alnum(s[n]) || s[n] == '-' || s[n] == '.' || s[n] == '_')) ++n;
  host = s.substr(0, n);
  s.remove_prefix(n);
  return valid_host_chars(host);
}

bool take_slash(std::string_view& s) {
  skip_ws(s);
  if (s.empty() || s.front() != '/') return false;
  s.remove_prefix(1);
  skip_ws(s);
  return true;
}

}  // namespace

bool ViaValue::rfc3261_branch() const {
  auto b = branch();
  return b && b->size() > 7 && b->substr(0, 7) == "z9hG4bK";
}

Parsed<ViaValue> parse_via(std::string_view s) {
  ViaValue v;
  v.protocol_name = take_token(s);
  if (v.protocol_name.empty() || !take_slash(s)) return Parsed<ViaValue>::error("bad Via protocol");
  v.protocol_version = take_token(s);
  if (v.protocol_version.empty() || !take_slash(s)) return Parsed<ViaValue>::error("bad Via protocol");
  v.transport = take_token(s);
  if (v.transport.empty()) return Parsed<ViaValue>::error("bad Via transport");
  if (s.empty() || !grammar::is_wsp(s.front())) return Parsed<ViaValue>::error("bad Via sent-by");
  skip_ws(s);
  if (!take_host(s, v.host, v.ipv6)) return Parsed<ViaValue>::error("bad Via sent-by host");
  skip_ws(s);
  if (!s.empty() && s.front() == ':') {
    s.remove_prefix(1);
    skip_ws(s);
    auto port = grammar::take_port(s);
    if (!port) return Parsed<ViaValue>::error("bad Via port");
    v.port = *port;
  }
  v.params = ParamList(s, ParamSyntax::kHeader);
  // One pass checks the grammar and the first received, rport and branch (the ones the
  // accessors return): a Via is parsed several times on the way through a proxy.
  bool received = false;
  bool rport = false;
  bool branch = false;
  const char* error = nullptr;
  if (!v.params.valid([&](const Param& p) {
        if (!received && grammar::iequals(p.name, "received")) {
          received = true;
          if (!valid_ip_literal(p.value)) error = "bad Via received";
        } else if (!rport && grammar::iequals(p.name, "rport")) {
          rport = true;
          if (!p.value.empty() && !grammar::parse_uint(p.value, 65535)) error = "bad Via rport";
        } else if (!branch && grammar::iequals(p.name, "branch")) {
          branch = true;
          if (p.value.empty()) error = "empty Via branch";
        }
        return error == nullptr;
      })) {
    return Parsed<ViaValue>::error(error != nullptr ? error : "bad Via parameter");
  }
  return v;
}

Parsed<NameAddr> parse_name_addr(std::string_view s) {
  NameAddr na;
  // The '<' that opens a name-addr, outside any quoted display name.
  std::size_t lt = std::string_view::npos;
  {
    bool in_quote = false;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (in_quote) {
        if (s[i] == '\\') {
          ++i;
        } else if (s[i] == '"') {
          in_quote = false;
        }
      } else if (s[i] == '"') {
        in_quote = true;
      } else if (s[i] == '<') {
        lt = i;
        break;
      }
    }
    if (in_quote) return Parsed<NameAddr>::error("unterminated quoted string");
  }
  if (lt != std::string_view::npos) {
    na.angle_brackets = true;
    std::string_view display = grammar::trim(s.substr(0, lt));
    if (!display.empty()) {
      if (display.front() == '"') {
        std::string_view rest = display;
        auto q = grammar::take_quoted(rest);
        if (!q || !rest.empty()) return Parsed<NameAddr>::error("bad display name");
        na.display_name = unquote(*q);
        na.quoted_display_name = true;
      } else {
        // *(token LWS)
        std::string_view rest = display;
        while (!rest.empty()) {
          if (take_token(rest).empty()) return Parsed<NameAddr>::error("bad display name");
          skip_ws(rest);
        }
        na.display_name = display;
      }
    }
    std::size_t gt = s.find('>', lt);
    if (gt == std::string_view::npos) return Parsed<NameAddr>::error("missing '>'");
    auto uri = parse_uri(s.substr(lt + 1, gt - lt - 1));
    if (!uri) return Parsed<NameAddr>::error(uri.why());
    na.uri = *uri;
    na.params = ParamList(s.substr(gt + 1), ParamSyntax::kHeader);
  } else {
    // addr-spec: the URI cannot hold ';', '?' or ',' (RFC 3261 §20.10), so parameters
    // after it belong to the header.
    std::size_t semi = s.find(';');
    std::string_view text = grammar::trim(s.substr(0, semi));
    if (text.find_first_of("?, \t\"") != std::string_view::npos) {
      return Parsed<NameAddr>::error("addr-spec needs <> around this URI");
    }
    auto uri = parse_uri(text);
    if (!uri) return Parsed<NameAddr>::error(uri.why());
    na.uri = *uri;
    na.params = ParamList(semi == std::string_view::npos ? std::string_view{} : s.substr(semi),
                          ParamSyntax::kHeader);
  }
  if (!na.params.valid()) return Parsed<NameAddr>::error("bad header parameter");
  return na;
}

std::optional<std::uint32_t> ContactValue::expires() const {
  auto e = address.params.find("expires");
  if (!e) return std::nullopt;
  return saturating_u32(*e);
}

namespace {
// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in thousandths.
std::optional<int> parse_qvalue(std::string_view q) {
  if (q.empty() || (q[0] != '0' && q[0] != '1')) return std::nullopt;
  int whole = q[0] - '0';
  int frac = 0;
  if (q.size() > 1) {
    if (q[1] != '.' || q.size() > 5) return std::nullopt;
    int scale = 100;
    for (std::size_t i = 2; i < q.size(); ++i) {
      if (!is_digit(q[i])) return std::nullopt;
      frac += (q[i] - '0') * scale;
      scale /= 10;
    }
  }
  int value = whole * 1000 + frac;
  if (value > 1000) return std::nullopt;
  return value;
}
}  // namespace

std::optional<int> ContactValue::q() const {
  auto q = address.params.find("q");
  if (!q) return std::nullopt;
  return parse_qvalue(*q);
}

Parsed<ContactValue> parse_contact(std::string_view s) {
  ContactValue c;
  if (s == "*") {
    c.star = true;
    return c;
  }
  auto na = parse_name_addr(s);
  if (!na) return Parsed<ContactValue>::error(na.why());
  c.address = *na;
  if (auto q = c.address.params.find("q"); q && !parse_qvalue(*q)) {
    return Parsed<ContactValue>::error("bad Contact q-value");
  }
  if (auto e = c.address.params.find("expires"); e && !saturating_u32(*e)) {
    return Parsed<ContactValue>::error("bad Contact expires");
  }
  return c;
}

Parsed<CSeqValue> parse_cseq(std::string_view s) {
  CSeqValue c;
  std::size_t n = 0;
  while (n < s.size() && is_digit(s[n])) ++n;
  auto number = grammar::parse_uint(s.substr(0, n), (1ULL << 31) - 1);
  if (!number) return Parsed<CSeqValue>::error("bad CSeq number");
  c.number = static_cast<std::uint32_t>(*number);
  s.remove_prefix(n);
  if (s.empty() || !grammar::is_wsp(s.front())) return Parsed<CSeqValue>::error("bad CSeq");
  skip_ws(s);
  c.method_name = take_token(s);
  if (c.method_name.empty() || !grammar::trim(s).empty()) {
    return Parsed<CSeqValue>::error("bad CSeq method");
  }
  c.method = method_from_name(c.method_name);
  return c;
}

Parsed<EventValue> parse_event(std::string_view s) {
  EventValue e;
  e.package = take_token(s);
  if (e.package.empty()) return Parsed<EventValue>::error("bad Event package");
  e.params = ParamList(s, ParamSyntax::kHeader);
  if (!e.params.valid()) return Parsed<EventValue>::error("bad Event parameter");
  return e;
}

std::optional<std::uint32_t> SubscriptionStateValue::expires() const {
  auto e = params.find("expires");
  return e ? saturating_u32(*e) : std::nullopt;
}

std::optional<std::uint32_t> SubscriptionStateValue::retry_after() const {
  auto e = params.find("retry-after");
  return e ? saturating_u32(*e) : std::nullopt;
}

Parsed<SubscriptionStateValue> parse_subscription_state(std::string_view s) {
  SubscriptionStateValue v;
  v.state = take_token(s);
  if (v.state.empty()) return Parsed<SubscriptionStateValue>::error("bad Subscription-State");
  v.params = ParamList(s, ParamSyntax::kHeader);
  if (!v.params.valid()) return Parsed<SubscriptionStateValue>::error("bad Subscription-State parameter");
  if (auto e = v.params.find("expires"); e && !saturating_u32(*e)) {
    return Parsed<SubscriptionStateValue>::error("bad Subscription-State expires");
  }
  return v;
}

bool MediaType::matches(std::string_view type_slash_subtype) const {
  std::size_t slash = type_slash_subtype.find('/');
  std::string_view t = type_slash_subtype.substr(0, slash);
  std::string_view st = slash == std::string_view::npos ? std::string_view{} : type_slash_subtype.substr(slash + 1);
  if (type == "*") return true;
  if (!iequals(type, t)) return false;
  return subtype == "*" || iequals(subtype, st);
}

namespace {
Parsed<MediaType> parse_media(std::string_view s, bool allow_wildcards) {
  MediaType m;
  m.type = take_token(s);
  if (m.type.empty() || !take_slash(s)) return Parsed<MediaType>::error("bad media type");
  m.subtype = take_token(s);
  if (m.subtype.empty()) return Parsed<MediaType>::error("bad media subtype");
  if (!allow_wildcards && (m.type == "*" || m.subtype == "*")) {
    return Parsed<MediaType>::error("wildcard in Content-Type");
  }
  if (m.type == "*" && m.subtype != "*") return Parsed<MediaType>::error("bad media range");
  m.params = ParamList(s, ParamSyntax::kHeader);
  if (!m.params.valid()) return Parsed<MediaType>::error("bad media type parameter");
  return m;
}
}  // namespace

Parsed<MediaType> parse_media_type(std::string_view s) { return parse_media(s, false); }
Parsed<MediaType> parse_media_range(std::string_view s) { return parse_media(s, true); }

std::optional<std::string_view> AuthValue::param(std::string_view name) const {
  std::optional<std::string_view> found;
  find_params(std::span<const std::string_view>(&name, 1), std::span<std::optional<std::string_view>>(&found, 1));
  return found;
}

void AuthValue::find_params(std::span<const std::string_view> names,
                            std::span<std::optional<std::string_view>> out) const {
  std::size_t missing = names.size();
  for (auto& value : out) value.reset();
  grammar::for_each_list_element(params, [&](std::string_view element) {
    std::size_t eq = element.find('=');
    if (eq == std::string_view::npos) return true;
    const std::string_view name = grammar::trim(element.substr(0, eq));
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (!out[i] && iequals(name, names[i])) {
        out[i] = unquote(grammar::trim(element.substr(eq + 1)));
        --missing;
        break;
      }
    }
    return missing != 0;
  });
}

Parsed<AuthValue> parse_auth(std::string_view s) {
  AuthValue a;
  a.scheme = take_token(s);
  if (a.scheme.empty()) return Parsed<AuthValue>::error("bad authentication scheme");
  a.params = grammar::trim(s);
  bool ok = true;
  grammar::for_each_list_element(a.params, [&](std::string_view element) {
    std::string_view rest = element;
    if (take_token(rest).empty()) {
      ok = false;
      return false;
    }
    skip_ws(rest);
    if (rest.empty() || rest.front() != '=') {
      ok = false;
      return false;
    }
    rest.remove_prefix(1);
    skip_ws(rest);
    if (!rest.empty() && rest.front() == '"') {
      auto q = grammar::take_quoted(rest);
      ok = q.has_value() && grammar::trim(rest).empty();
    } else {
      // token68-like values (RFC 7235) are accepted for unknown schemes.
      ok = !rest.empty() && rest.find_first_of(" \t\"") == std::string_view::npos;
    }
    return ok;
  });
  if (!ok && !a.params.empty()) return Parsed<AuthValue>::error("bad authentication parameter");
  return a;
}

Parsed<RetryAfterValue> parse_retry_after(std::string_view s) {
  RetryAfterValue r;
  std::size_t n = 0;
  while (n < s.size() && is_digit(s[n])) ++n;
  auto seconds = saturating_u32(s.substr(0, n));
  if (!seconds) return Parsed<RetryAfterValue>::error("bad Retry-After");
  r.seconds = *seconds;
  s.remove_prefix(n);
  skip_ws(s);
  if (!s.empty() && s.front() == '(') {
    int depth = 0;
    std::size_t i = 0;
    for (; i < s.size(); ++i) {
      if (s[i] == '\\') {
        ++i;
      } else if (s[i] == '(') {
        ++depth;
      } else if (s[i] == ')' && --depth == 0) {
        break;
      }
    }
    if (depth != 0 || i >= s.size()) return Parsed<RetryAfterValue>::error("bad Retry-After comment");
    r.comment = s.substr(1, i - 1);
    s.remove_prefix(i + 1);
  }
  r.params = ParamList(s, ParamSyntax::kHeader);
  if (!r.params.valid()) return Parsed<RetryAfterValue>::error("bad Retry-After parameter");
  return r;
}

Parsed<std::string_view> parse_token(std::string_view s) {
  if (!grammar::is_token(s)) return Parsed<std::string_view>::error("bad token");
  return s;
}

Parsed<std::string_view> parse_call_id(std::string_view s) {
  // callid = word [ "@" word ]
  std::size_t at = s.find('@');
  if (!grammar::is_word(s.substr(0, at)) ||
      (at != std::string_view::npos && !grammar::is_word(s.substr(at + 1)))) {
    return Parsed<std::string_view>::error("bad Call-ID");
  }
  return s;
}

Parsed<std::string_view> parse_date(std::string_view s) {
  // rfc1123-date: wkday "," SP 2DIGIT SP month SP 4DIGIT SP 2DIGIT ":" 2DIGIT ":" 2DIGIT SP "GMT"
  static constexpr std::string_view kDays[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  auto bad = [] { return Parsed<std::string_view>::error("bad Date (RFC 1123, GMT)"); };
  if (s.size() != 29) return bad();
  bool day_ok = false;
  for (auto d : kDays) day_ok = day_ok || s.substr(0, 3) == d;
  bool month_ok = false;
  for (auto m : kMonths) month_ok = month_ok || s.substr(8, 3) == m;
  auto digits = [&](std::size_t pos, std::size_t n) {
    for (std::size_t i = pos; i < pos + n; ++i) {
      if (!is_digit(s[i])) return false;
    }
    return true;
  };
  if (!day_ok || !month_ok || s.substr(3, 2) != ", " || !digits(5, 2) || s[7] != ' ' ||
      s[11] != ' ' || !digits(12, 4) || s[16] != ' ' || !digits(17, 2) || s[19] != ':' ||
      !digits(20, 2) || s[22] != ':' || !digits(23, 2) || s.substr(25) != " GMT") {
    return bad();
  }
  return s;
}

Parsed<std::uint32_t> parse_max_forwards(std::string_view s) {
  auto v = grammar::parse_uint(s, 255);
  if (!v) return Parsed<std::uint32_t>::error("bad Max-Forwards (0-255)");
  return static_cast<std::uint32_t>(*v);
}

Parsed<std::uint32_t> parse_delta_seconds(std::string_view s) {
  auto v = saturating_u32(s);
  if (!v) return Parsed<std::uint32_t>::error("bad delta-seconds");
  return *v;
}

Parsed<std::uint32_t> parse_content_length(std::string_view s) {
  auto v = grammar::parse_uint(s, kU32Max);
  if (!v) return Parsed<std::uint32_t>::error("bad Content-Length");
  return static_cast<std::uint32_t>(*v);
}

Parsed<std::string_view> parse_text(std::string_view s) { return s; }

}  // namespace herald::sip
