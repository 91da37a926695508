#include "sip/msg/uri.h"

#include "sip/msg/grammar.h"

namespace herald::sip {
namespace {

using grammar::is_alnum;
using grammar::is_alpha;
using grammar::is_digit;
using grammar::is_hex;
using grammar::iequals;

// Checks that every char of s is allowed by `allowed` or is a valid %HH escape.
template <class Pred>
bool all_escaped_or(std::string_view s, Pred allowed) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (i + 2 >= s.size() || !is_hex(s[i + 1]) || !is_hex(s[i + 2])) return false;
      i += 2;
    } else if (!allowed(s[i])) {
      return false;
    }
  }
  return true;
}

bool is_user_char(char c) {
  switch (c) {
    case '&': case '=': case '+': case '$': case ',': case ';': case '?': case '/': return true;
    default: return grammar::is_unreserved(c);
  }
}

bool is_password_char(char c) {
  switch (c) {
    case '&': case '=': case '+': case '$': case ',': return true;
    default: return grammar::is_unreserved(c);
  }
}

bool is_header_char(char c) {
  switch (c) {
    case '[': case ']': case '/': case '?': case ':': case '+': case '$': case '=': case '&':
      return true;
    default: return grammar::is_unreserved(c);
  }
}

bool valid_hostname(std::string_view h) {
  if (h.empty() || h.front() == '.' || h.front() == '-') return false;
  for (char c : h) {
    if (!is_alnum(c) && c != '-' && c != '.' && c != '_') return false;
  }
  return true;
}

bool valid_ipv6(std::string_view h) {
  if (h.size() < 2) return false;
  for (char c : h) {
    if (!is_hex(c) && c != ':' && c != '.') return false;
  }
  return h.find(':') != std::string_view::npos;
}

bool valid_other_char(char c) {
  // absoluteURI: uric / reserved / escaped. Refuse what can never be in a URI here.
  unsigned char u = static_cast<unsigned char>(c);
  return u > 0x20 && u < 0x7f && c != '<' && c != '>' && c != '"' && c != '\\' && c != '{' &&
         c != '}' && c != '|' && c != '^' && c != '`';
}

Parsed<Uri> parse_sip(Uri uri, std::string_view rest) {
  // userinfo ends at the first '@' (no '@' may appear unescaped after it).
  std::size_t at = rest.find('@');
  if (at != std::string_view::npos) {
    std::string_view userinfo = rest.substr(0, at);
    std::size_t colon = userinfo.find(':');
    uri.user = userinfo.substr(0, colon);
    uri.has_user = true;
    if (uri.user.empty()) return Parsed<Uri>::error("empty URI user");
    if (!all_escaped_or(uri.user, is_user_char)) return Parsed<Uri>::error("bad URI user");
    if (colon != std::string_view::npos) {
      uri.password = userinfo.substr(colon + 1);
      uri.has_password = true;
      if (!all_escaped_or(uri.password, is_password_char)) {
        return Parsed<Uri>::error("bad URI password");
      }
    }
    rest.remove_prefix(at + 1);
  }
  // host
  if (!rest.empty() && rest.front() == '[') {
    std::size_t close = rest.find(']');
    if (close == std::string_view::npos) return Parsed<Uri>::error("unterminated IPv6 reference");
    uri.host = rest.substr(1, close - 1);
    uri.ipv6 = true;
    if (!valid_ipv6(uri.host)) return Parsed<Uri>::error("bad IPv6 reference");
    rest.remove_prefix(close + 1);
  } else {
    std::size_t end = 0;
    while (end < rest.size() && rest[end] != ':' && rest[end] != ';' && rest[end] != '?') ++end;
    uri.host = rest.substr(0, end);
    if (!valid_hostname(uri.host)) return Parsed<Uri>::error("bad URI host");
    rest.remove_prefix(end);
  }
  if (!rest.empty() && rest.front() == ':') {
    rest.remove_prefix(1);
    auto port = grammar::take_port(rest);
    if (!port) return Parsed<Uri>::error("bad URI port");
    uri.port = *port;
  }
  std::size_t q = rest.find('?');
  uri.params = ParamList(rest.substr(0, q), ParamSyntax::kUri);
  if (!uri.params.valid()) return Parsed<Uri>::error("bad URI parameter");
  if (q != std::string_view::npos) {
    uri.headers = rest.substr(q + 1);
    if (uri.headers.empty() || !all_escaped_or(uri.headers, is_header_char)) {
      return Parsed<Uri>::error("bad URI headers");
    }
  }
  return uri;
}

bool is_tel_char(char c) {
  switch (c) {
    case '+': case '-': case '.': case '(': case ')': case '*': case '#': return true;
    default: return is_hex(c);
  }
}

Parsed<Uri> parse_tel(Uri uri, std::string_view rest) {
  std::size_t semi = rest.find(';');
  uri.opaque = rest.substr(0, semi);
  if (uri.opaque.empty()) return Parsed<Uri>::error("empty tel number");
  for (char c : uri.opaque) {
    if (!is_tel_char(c)) return Parsed<Uri>::error("bad tel number");
  }
  if (semi != std::string_view::npos) {
    uri.params = ParamList(rest.substr(semi), ParamSyntax::kUri);
    if (!uri.params.valid()) return Parsed<Uri>::error("bad tel parameter");
  }
  return uri;
}

}  // namespace

Parsed<Uri> parse_uri(std::string_view text) {
  Uri uri;
  uri.text = text;
  std::size_t colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0) return Parsed<Uri>::error("URI has no scheme");
  uri.scheme_name = text.substr(0, colon);
  if (!is_alpha(uri.scheme_name.front())) return Parsed<Uri>::error("bad URI scheme");
  for (char c : uri.scheme_name) {
    if (!is_alnum(c) && c != '+' && c != '-' && c != '.') return Parsed<Uri>::error("bad URI scheme");
  }
  std::string_view rest = text.substr(colon + 1);
  if (rest.empty()) return Parsed<Uri>::error("empty URI");
  if (iequals(uri.scheme_name, "sip")) {
    uri.scheme = UriScheme::kSip;
    return parse_sip(uri, rest);
  }
  if (iequals(uri.scheme_name, "sips")) {
    uri.scheme = UriScheme::kSips;
    return parse_sip(uri, rest);
  }
  if (iequals(uri.scheme_name, "tel")) {
    uri.scheme = UriScheme::kTel;
    return parse_tel(uri, rest);
  }
  uri.scheme = UriScheme::kOther;
  uri.opaque = rest;
  for (char c : rest) {
    if (!valid_other_char(c)) return Parsed<Uri>::error("bad character in URI");
  }
  return uri;
}

std::string unescape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  auto hex = [](char c) {
    return is_digit(c) ? c - '0' : (grammar::to_lower(c) - 'a' + 10);
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && is_hex(text[i + 1]) && is_hex(text[i + 2])) {
      out.push_back(static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2])));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

namespace {

std::string tel_digits(std::string_view number) {
  std::string out;
  for (char c : number) {
    if (c != '-' && c != '.' && c != '(' && c != ')') out.push_back(grammar::to_lower(c));
  }
  return out;
}

bool params_match(const Uri& a, const Uri& b) {
  // Parameters that must match when present in either URI.
  for (std::string_view name : {"user", "ttl", "method", "maddr", "transport"}) {
    auto pa = a.params.find(name);
    auto pb = b.params.find(name);
    if (pa.has_value() != pb.has_value()) return false;
    if (pa && !iequals(unescape(*pa), unescape(*pb))) return false;
  }
  // Any other parameter present in both must match. A name given twice counts with its
  // first value on both sides, as find() does, so that equality is reflexive and symmetric.
  bool ok = true;
  a.params.for_each([&](const Param& p) {
    auto mine = a.params.find(p.name);
    auto other = b.params.find(p.name);
    if (other && !iequals(unescape(*mine), unescape(*other))) ok = false;
    return ok;
  });
  return ok;
}

}  // namespace

bool uri_equal(const Uri& a, const Uri& b) {
  if (a.scheme != b.scheme) return false;
  switch (a.scheme) {
    case UriScheme::kSip:
    case UriScheme::kSips:
      return a.has_user == b.has_user && unescape(a.user) == unescape(b.user) &&
             a.has_password == b.has_password && unescape(a.password) == unescape(b.password) &&
             iequals(a.host, b.host) && a.port == b.port && params_match(a, b);
    case UriScheme::kTel:
      return tel_digits(a.opaque) == tel_digits(b.opaque);
    case UriScheme::kOther:
      return iequals(a.scheme_name, b.scheme_name) && iequals(a.opaque, b.opaque);
  }
  return false;
}

std::string address_of_record(const Uri& uri) {
  if (!uri.is_sip()) return {};
  std::string key = "sip:";
  if (uri.has_user) {
    key += unescape(uri.user);
    key += '@';
  }
  grammar::append_lower(key, uri.host);
  return key;
}

}  // namespace herald::sip
