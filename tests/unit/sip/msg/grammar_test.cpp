#include "sip/msg/grammar.h"

#include <gtest/gtest.h>

#include <string>

namespace herald::sip::grammar {
namespace {

TEST(Grammar, LowerChangesAsciiLettersOnly) {
  EXPECT_EQ(lower("Example.COM"), "example.com");
  EXPECT_EQ(lower(""), "");
  EXPECT_EQ(lower("\xC3\x89t\xC3\xA9-1_Z"), "\xC3\x89t\xC3\xA9-1_z");
}

TEST(Grammar, AppendLowerKeepsWhatIsThere) {
  std::string key = "Bob@";
  append_lower(key, "Example.COM");
  EXPECT_EQ(key, "Bob@example.com");
  append_lower(key, "");
  EXPECT_EQ(key, "Bob@example.com");
}

}  // namespace
}  // namespace herald::sip::grammar
