#include "sip/msg/grammar.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace herald::sip::grammar {

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_token_char(c)) return false;
  }
  return true;
}

bool is_word(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_word_char(c)) return false;
  }
  return true;
}

std::optional<std::string_view> take_quoted(std::string_view& s) {
  if (s.empty() || s.front() != '"') return std::nullopt;
  for (std::size_t i = 1; i < s.size(); ++i) {
    if (s[i] == '\\') {
      if (i + 1 >= s.size()) return std::nullopt;
      // quoted-pair excludes CR and LF.
      if (s[i + 1] == '\r' || s[i + 1] == '\n') return std::nullopt;
      ++i;
    } else if (s[i] == '"') {
      std::string_view quoted = s.substr(0, i + 1);
      s.remove_prefix(i + 1);
      return quoted;
    }
  }
  return std::nullopt;
}

std::optional<std::uint64_t> parse_uint(std::string_view s, std::uint64_t max) {
  if (s.empty()) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (!is_digit(c)) return std::nullopt;
    std::uint64_t d = static_cast<std::uint64_t>(c - '0');
    if (v > (max - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

std::optional<std::uint16_t> take_port(std::string_view& s) {
  std::size_t n = 0;
  while (n < s.size() && is_digit(s[n])) ++n;
  auto port = parse_uint(s.substr(0, n), 65535);
  s.remove_prefix(n);
  if (!port || *port == 0) return std::nullopt;
  return static_cast<std::uint16_t>(*port);
}

std::size_t find_unquoted(std::string_view s, char sep, std::size_t pos) {
  bool in_quote = false;
  bool in_angle = false;
  for (std::size_t i = pos; i < s.size(); ++i) {
    char c = s[i];
    if (in_quote) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_quote = false;
      }
    } else if (in_angle) {
      if (c == '>') in_angle = false;
    } else if (c == '"') {
      in_quote = true;
    } else if (c == '<') {
      in_angle = true;
    } else if (c == sep) {
      return i;
    }
  }
  return std::string_view::npos;
}

std::string lower(std::string_view s) {
  std::string out;
  append_lower(out, s);
  return out;
}

void append_lower(std::string& out, std::string_view s) {
  const std::size_t from = out.size();
  out.append(s);
  for (std::size_t i = from; i < out.size(); ++i) out[i] = to_lower(out[i]);
}

std::uint64_t hash64(std::string_view text) { return XXH3_64bits(text.data(), text.size()); }

}  // namespace herald::sip::grammar
