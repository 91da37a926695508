#include "sip/msg/params.h"

#include "sip/msg/grammar.h"

namespace herald::sip {
namespace {

using grammar::is_hex;

bool is_uri_param_char(char c) {
  switch (c) {
    case '[': case ']': case '/': case ':': case '&': case '+': case '$': return true;
    default: return grammar::is_unreserved(c);
  }
}

// Length of a run of URI paramchar (with %HH escapes) at the front of s; npos on a bad escape.
std::size_t uri_param_run(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    if (s[i] == '%') {
      if (i + 2 >= s.size() || !is_hex(s[i + 1]) || !is_hex(s[i + 2])) {
        return std::string_view::npos;
      }
      i += 3;
    } else if (is_uri_param_char(s[i])) {
      ++i;
    } else {
      break;
    }
  }
  return i;
}

bool is_gen_value_char(char c) { return grammar::is_token_char(c) || c == ':' || c == '[' || c == ']'; }

}  // namespace

ParamList::Step ParamList::next(std::string_view& rest, Param& out) const {
  if (syntax_ == ParamSyntax::kHeader) grammar::skip_ws(rest);
  if (rest.empty()) return Step::kEnd;
  if (rest.front() != ';') return Step::kBad;
  rest.remove_prefix(1);
  out = Param{};
  if (syntax_ == ParamSyntax::kUri) {
    std::size_t n = uri_param_run(rest);
    if (n == 0 || n == std::string_view::npos) return Step::kBad;
    out.name = rest.substr(0, n);
    rest.remove_prefix(n);
    if (!rest.empty() && rest.front() == '=') {
      rest.remove_prefix(1);
      n = uri_param_run(rest);
      if (n == 0 || n == std::string_view::npos) return Step::kBad;
      out.value = rest.substr(0, n);
      out.has_value = true;
      rest.remove_prefix(n);
    }
    if (!rest.empty() && rest.front() != ';') return Step::kBad;
    return Step::kParam;
  }
  grammar::skip_ws(rest);
  out.name = grammar::take_token(rest);
  if (out.name.empty()) return Step::kBad;
  grammar::skip_ws(rest);
  if (!rest.empty() && rest.front() == '=') {
    rest.remove_prefix(1);
    grammar::skip_ws(rest);
    if (!rest.empty() && rest.front() == '"') {
      auto q = grammar::take_quoted(rest);
      if (!q) return Step::kBad;
      out.value = *q;
    } else {
      std::size_t n = 0;
      while (n < rest.size() && is_gen_value_char(rest[n])) ++n;
      if (n == 0) return Step::kBad;
      out.value = rest.substr(0, n);
      rest.remove_prefix(n);
    }
    out.has_value = true;
    grammar::skip_ws(rest);
  }
  if (!rest.empty() && rest.front() != ';') return Step::kBad;
  return Step::kParam;
}

bool ParamList::valid() const {
  return valid([](const Param&) { return true; });
}

std::optional<std::string_view> ParamList::find(std::string_view name) const {
  std::string_view rest = raw_;
  Param p;
  while (next(rest, p) == Step::kParam) {
    if (grammar::iequals(p.name, name)) return p.value;
  }
  return std::nullopt;
}

std::string_view unquote(std::string_view value) {
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
    return value.substr(1, value.size() - 2);
  }
  return value;
}

}  // namespace herald::sip
