#pragma once

// Helpers the unit tests share for SIP text written in C++ literals.

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "sip/msg/message.h"

namespace herald::test {

// Parses `text` written with "\n" line ends (converted to CRLF); a parse failure fails the
// test and gives an empty message.
inline sip::Message parse_lf(std::string_view text) {
  std::string bytes;
  bytes.reserve(text.size() + 64);
  for (char c : text) {
    if (c == '\n') bytes.push_back('\r');
    bytes.push_back(c);
  }
  auto parsed = sip::parse_message(std::move(bytes));
  EXPECT_TRUE(parsed.ok()) << parsed.why();
  return parsed.ok() ? std::move(parsed).value() : sip::Message{};
}

// The first line of header `id`, as written; empty when absent.
inline std::string header_text(const sip::Message& m, sip::HeaderId id) {
  const sip::HeaderField* f = m.find(id);
  return f ? std::string(f->value) : std::string();
}

}  // namespace herald::test
