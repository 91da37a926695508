#include "sip/msg/grammar.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

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

TEST(Grammar, TakePortTakesTheDigitsInRange) {
  std::string_view s = "5061;transport=tcp";
  EXPECT_EQ(take_port(s), 5061);
  EXPECT_EQ(s, ";transport=tcp");
  s = "65535";
  EXPECT_EQ(take_port(s), 65535);
  EXPECT_TRUE(s.empty());
  for (std::string_view bad : {"", ";lr", "0", "65536", "99999999999999999999"}) {
    s = bad;
    EXPECT_FALSE(take_port(s)) << bad;
  }
}

}  // namespace
}  // namespace herald::sip::grammar
