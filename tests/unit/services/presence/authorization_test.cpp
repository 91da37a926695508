#include "services/presence/authorization.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace herald::services::presence {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr std::string_view kBob = "sip:bob@example.com";

TEST(ActionTest, NamesRoundTrip) {
  for (Action a : {Action::kAllow, Action::kBlock, Action::kPoliteBlock, Action::kConfirm}) {
    auto parsed = parse_action(to_string(a));
    ASSERT_TRUE(parsed.has_value()) << to_string(a);
    EXPECT_EQ(*parsed, a);
  }
  EXPECT_EQ(to_string(Action::kPoliteBlock), "polite-block");
  EXPECT_EQ(parse_action("Polite-Block"), Action::kPoliteBlock);
  EXPECT_FALSE(parse_action("deny").has_value());
  EXPECT_FALSE(parse_action("").has_value());
}

TEST(AuthorizationTest, PolicyByDomainWithoutRules) {
  Authorization auth;  // same domain allow, other domains confirm
  EXPECT_EQ(auth.decide(kBob, "sip:alice@example.com"), Action::kAllow);
  EXPECT_EQ(auth.decide(kBob, "sip:alice@EXAMPLE.com"), Action::kAllow);  // domains case-insensitive
  EXPECT_EQ(auth.decide(kBob, "sip:carol@other.org"), Action::kConfirm);

  Authorization strict({Action::kConfirm, Action::kBlock});
  EXPECT_EQ(strict.decide(kBob, "sip:alice@example.com"), Action::kConfirm);
  EXPECT_EQ(strict.decide(kBob, "sip:carol@other.org"), Action::kBlock);
}

TEST(AuthorizationTest, APresentityAlwaysSeesItself) {
  Authorization auth({Action::kBlock, Action::kBlock});
  auth.set_rules({{std::string(kBob), std::string(kBob), "block"}, {std::string(kBob), "example.com", "block"}});
  EXPECT_EQ(auth.decide(kBob, kBob), Action::kAllow);
}

TEST(AuthorizationTest, AorRuleBeatsDomainRuleBeatsPolicy) {
  Authorization auth;
  auth.set_rules({
      {std::string(kBob), "other.org", "polite-block"},
      {std::string(kBob), "sip:carol@other.org", "allow"},
      {std::string(kBob), "example.com", "block"},
  });
  EXPECT_EQ(auth.decide(kBob, "sip:carol@other.org"), Action::kAllow);         // AOR rule
  EXPECT_EQ(auth.decide(kBob, "sip:dave@other.org"), Action::kPoliteBlock);    // domain rule
  EXPECT_EQ(auth.decide(kBob, "sip:alice@example.com"), Action::kBlock);       // domain rule over policy
  EXPECT_EQ(auth.decide(kBob, "sip:erin@third.net"), Action::kConfirm);        // policy
  // Rules belong to their presentity only.
  EXPECT_EQ(auth.decide("sip:alice@example.com", "sip:dave@other.org"), Action::kConfirm);
  EXPECT_EQ(auth.decide("sip:alice@example.com", "sip:frank@example.com"), Action::kAllow);
}

TEST(AuthorizationTest, RulesWrittenByHandAreNormalized) {
  Authorization auth;
  auth.set_rules({
      {"sip:bob@EXAMPLE.com", "carol@Other.ORG", "block"},
      {std::string(kBob), "Third.NET", "allow"},
  });
  EXPECT_EQ(auth.decide(kBob, "sip:carol@other.org"), Action::kBlock);
  EXPECT_EQ(auth.decide(kBob, "sip:erin@third.net"), Action::kAllow);
}

TEST(AuthorizationTest, UnknownActionsAreIgnoredAndSetRulesReplacesAll) {
  Authorization auth;
  auth.set_rules({{std::string(kBob), "sip:carol@other.org", "deny"}});
  EXPECT_EQ(auth.decide(kBob, "sip:carol@other.org"), Action::kConfirm);
  auth.set_rules({{std::string(kBob), "sip:carol@other.org", "allow"}});
  EXPECT_EQ(auth.decide(kBob, "sip:carol@other.org"), Action::kAllow);
  auth.set_rules({});
  EXPECT_EQ(auth.decide(kBob, "sip:carol@other.org"), Action::kConfirm);
}

TEST(AuthorizationTest, ChangedPresentities) {
  Authorization auth;
  const std::vector<store::PresenceRule> rules = {
      {std::string(kBob), "sip:carol@other.org", "allow"},
      {"sip:alice@example.com", "other.org", "block"},
      {"sip:dave@example.com", "sip:carol@other.org", "confirm"},
  };
  EXPECT_THAT(auth.changed_presentities(rules),
              ElementsAre("sip:alice@example.com", "sip:bob@example.com", "sip:dave@example.com"));
  auth.set_rules(rules);
  EXPECT_THAT(auth.changed_presentities(rules), IsEmpty());

  auto next = rules;
  next[0].action = "polite-block";                                  // bob: changed action
  next.erase(next.begin() + 1);                                     // alice: rule removed
  next.push_back({"sip:erin@example.com", "other.org", "allow"});   // erin: new
  next.push_back({"sip:dave@example.com", "sip:x@y.org", "bogus"});  // ignored: dave unchanged
  EXPECT_THAT(auth.changed_presentities(next),
              ElementsAre("sip:alice@example.com", "sip:bob@example.com", "sip:erin@example.com"));
}

}  // namespace
}  // namespace herald::services::presence
