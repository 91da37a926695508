#include "store/ha1.h"

#include <gtest/gtest.h>

namespace herald::store {
namespace {

TEST(Ha1Test, Md5MatchesRfc2617Example) {
  // RFC 2617 §3.5: HA1 for Mufasa / testrealm@host.com / Circle Of Life.
  Result<std::string> ha1 =
      compute_ha1(DigestAlgorithm::kMd5, "Mufasa", "testrealm@host.com", "Circle Of Life");
  ASSERT_TRUE(ha1.ok()) << ha1.status().message();
  EXPECT_EQ(*ha1, "939e7578ed9e3c518a452acee763bce9");
}

TEST(Ha1Test, Sha256MatchesRfc7616Example) {
  // RFC 7616 §3.9.1; checked with: printf '%s' 'Mufasa:http-auth@example.org:Circle of Life'
  // | sha256sum
  Result<std::string> ha1 =
      compute_ha1(DigestAlgorithm::kSha256, "Mufasa", "http-auth@example.org", "Circle of Life");
  ASSERT_TRUE(ha1.ok()) << ha1.status().message();
  EXPECT_EQ(*ha1, "7987c64c30e25f1b74be53f966b49b90f2808aa92faf9a00262392d7b4794232");
}

TEST(Ha1Test, UsernameIsTheUserPartOfTheAor) {
  EXPECT_EQ(*username_of("sip:alice@example.com"), "alice");
  EXPECT_EQ(*username_of("sips:bob@example.com"), "bob");
  EXPECT_EQ(*username_of("carol@example.com"), "carol");
  EXPECT_EQ(username_of("sip:example.com").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(username_of("sip:@example.com").status().code(), StatusCode::kInvalidArgument);
}

TEST(Ha1Test, MakeUserComputesBothHa1sFromTheUserPart) {
  Result<User> user = make_user("sip:Mufasa@host.com", "testrealm@host.com", "Circle Of Life");
  ASSERT_TRUE(user.ok()) << user.status().message();
  EXPECT_EQ(user->aor, "sip:Mufasa@host.com");
  EXPECT_EQ(user->realm, "testrealm@host.com");
  EXPECT_EQ(user->ha1_md5, "939e7578ed9e3c518a452acee763bce9");
  EXPECT_EQ(user->ha1_sha256,
            *compute_ha1(DigestAlgorithm::kSha256, "Mufasa", "testrealm@host.com",
                         "Circle Of Life"));
  EXPECT_EQ(user->ha1_sha256.size(), 64u);
}

}  // namespace
}  // namespace herald::store
