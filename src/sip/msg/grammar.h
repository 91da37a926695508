#pragma once

// Character classes and small scanners for the RFC 3261 §25 grammar. Pure functions over
// string_views; nothing here allocates. Used by the URI, header and message parsers.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace herald::sip::grammar {

inline constexpr bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
inline constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }
inline constexpr bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }
inline constexpr bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
inline constexpr bool is_wsp(char c) { return c == ' ' || c == '\t'; }

namespace detail {
constexpr std::array<bool, 256> make_class(std::string_view extra) {
  std::array<bool, 256> table{};
  for (int c = 0; c < 256; ++c) table[static_cast<std::size_t>(c)] = is_alnum(static_cast<char>(c));
  for (char c : extra) table[static_cast<unsigned char>(c)] = true;
  return table;
}
inline constexpr auto kTokenChars = make_class("-.!%*_+`'~");
inline constexpr auto kWordChars = make_class("-.!%*_+`'~()<>:\\\"/[]?{}");
inline constexpr auto kUnreserved = make_class("-_.!~*'()");
}  // namespace detail

// The classes below are table lookups, inline: every parser scans with them.
// token: 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
inline constexpr bool is_token_char(char c) { return detail::kTokenChars[static_cast<unsigned char>(c)]; }
// word: token chars plus "(" ")" "<" ">" ":" "\" DQUOTE "/" "[" "]" "?" "{" "}" (Call-ID)
inline constexpr bool is_word_char(char c) { return detail::kWordChars[static_cast<unsigned char>(c)]; }
// unreserved: alphanum / mark ("-" "_" "." "!" "~" "*" "'" "(" ")")
inline constexpr bool is_unreserved(char c) { return detail::kUnreserved[static_cast<unsigned char>(c)]; }

bool is_token(std::string_view s);
bool is_word(std::string_view s);

// ASCII case-insensitive equality (SIP names, tokens, schemes). Inline: on the parse path.
inline constexpr char to_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c; }
inline constexpr bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (to_lower(a[i]) != to_lower(b[i])) return false;
  }
  return true;
}

// ASCII lower case of `s` (host names, domain lists, tokens).
std::string lower(std::string_view s);
// Appends the ASCII lower case of `s` to `out`: a key built in pieces needs no temporary.
void append_lower(std::string& out, std::string_view s);

// A 64-bit hash of `text` (XXH3): table keys, and ids derived from text. Not keyed: where a
// peer could choose colliding inputs to its advantage, key it or bound the table.
std::uint64_t hash64(std::string_view text);

// Removes leading and trailing SP / HTAB (and CR / LF, which only remain after unfolding).
inline constexpr bool is_trim_char(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
inline constexpr std::string_view trim_left(std::string_view s) {
  std::size_t b = 0;
  while (b < s.size() && is_trim_char(s[b])) ++b;
  return s.substr(b);
}
inline constexpr std::string_view trim(std::string_view s) {
  s = trim_left(s);
  std::size_t e = s.size();
  while (e > 0 && is_trim_char(s[e - 1])) --e;
  return s.substr(0, e);
}

// Skips linear white space at the front of `s` (SP, HTAB; folding was removed by the parser).
inline constexpr void skip_ws(std::string_view& s) { s = trim_left(s); }

// Takes a token from the front of `s`; empty when `s` does not start with a token char.
inline constexpr std::string_view take_token(std::string_view& s) {
  std::size_t n = 0;
  while (n < s.size() && is_token_char(s[n])) ++n;
  std::string_view token = s.substr(0, n);
  s.remove_prefix(n);
  return token;
}

// Takes a quoted-string (with its quotes) from the front of `s`, honouring quoted-pairs.
// Returns nullopt when `s` does not start with DQUOTE or the quote is unterminated.
std::optional<std::string_view> take_quoted(std::string_view& s);

// Decimal without sign, at most `max`; nullopt for empty, non-digits or overflow.
std::optional<std::uint64_t> parse_uint(std::string_view s, std::uint64_t max);

// Takes the digits at the front of `s` as a port (1 to 65535, a URI's or a Via's sent-by);
// nullopt when there are none or they are out of range.
std::optional<std::uint16_t> take_port(std::string_view& s);

// Finds the next `sep` in `s` from `pos` that is outside quoted strings and <...>.
// Returns npos when there is none. An unterminated quote or bracket yields npos too;
// callers detect those when they parse the element itself.
std::size_t find_unquoted(std::string_view s, char sep, std::size_t pos = 0);

// Calls f(element) for each comma-separated element of a header value (RFC 3261 §7.3.1),
// skipping separators inside quotes and angle brackets. Elements are trimmed. An empty
// element (",," or a trailing comma) is passed as empty so the caller can reject it.
// Stops early and returns false when f returns false.
template <class F>
bool for_each_list_element(std::string_view value, F&& f) {
  std::size_t start = 0;
  while (true) {
    std::size_t comma = find_unquoted(value, ',', start);
    std::string_view element =
        trim(value.substr(start, comma == std::string_view::npos ? std::string_view::npos
                                                                  : comma - start));
    if (!f(element)) return false;
    if (comma == std::string_view::npos) return true;
    start = comma + 1;
  }
}

}  // namespace herald::sip::grammar
