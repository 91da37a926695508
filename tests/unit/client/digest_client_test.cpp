// The client's digest answers, checked by the server's own Authenticator: what Herald's
// commands send must be what Herald accepts, for both algorithms and both challenge kinds.
#include "client/digest_client.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "services/auth/authenticator.h"
#include "sip/msg/headers.h"

namespace herald::client {
namespace {

using services::auth::Algorithm;
using sip::HeaderId;
using sip::Message;

constexpr const char* kRealm = "example.com";

Message parse(std::string text) {
  auto parsed = sip::parse_message(std::move(text));
  EXPECT_TRUE(parsed.ok()) << parsed.why();
  return std::move(parsed).value();
}

Message request(std::string_view method) {
  return parse(std::string(method) + " sip:bob@example.com SIP/2.0\r\n"
               "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds\r\n"
               "Max-Forwards: 70\r\n"
               "To: <sip:bob@example.com>\r\n"
               "From: <sip:alice@example.com>;tag=1928301774\r\n"
               "Call-ID: a84b4c76e66710\r\n"
               "CSeq: 2 " + std::string(method) + "\r\n"
               "Content-Length: 0\r\n\r\n");
}

class DigestClientTest : public ::testing::Test {
 protected:
  DigestClientTest() {
    users_["alice"] = services::auth::Credentials{services::auth::ha1(Algorithm::kMd5, "alice", kRealm, "secret"),
                                                  services::auth::ha1(Algorithm::kSha256, "alice", kRealm, "secret")};
  }

  // The server's challenge to `r` as a 401 or 407.
  Message challenged(const Message& r, bool proxy) {
    Message response = sip::make_response(r, proxy ? 407 : 401, proxy ? "Proxy Authentication Required" : "Unauthorized");
    auth_.add_challenge(response, kRealm, false, proxy);
    return parse(sip::serialize(response));  // as received off the wire
  }

  // `r` with the client's answer to `challenge` added.
  Message answered(Message r, const DigestChallenge& challenge, std::string_view password, std::uint32_t nc = 1) {
    r.append(challenge.proxy ? HeaderId::kProxyAuthorization : HeaderId::kAuthorization,
             credentials(challenge, "alice", password, r.method_name(), r.request_uri_text(), nc, "0a4f113b"));
    return parse(sip::serialize(r));
  }

  std::int64_t now_ = 1'700'000'000;
  services::auth::Clock clock_ = [this] { return now_; };
  services::auth::NonceFactory factory_{std::string(32, 'k'), clock_};
  services::auth::NonceCounts counts_{clock_};
  std::map<std::string, services::auth::Credentials, std::less<>> users_;
  services::auth::Authenticator auth_{
      factory_, counts_, [this](std::string_view user, std::string_view) -> std::optional<services::auth::Credentials> {
        auto it = users_.find(user);
        if (it == users_.end()) return std::nullopt;
        return it->second;
      }};
};

TEST_F(DigestClientTest, PicksSha256FromTheServersChallengeAndTheServerAcceptsTheAnswer) {
  Message r = request("REGISTER");
  auto c = pick_challenge(challenged(r, false));
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->algorithm, Algorithm::kSha256);
  EXPECT_FALSE(c->proxy);
  EXPECT_EQ(c->realm, kRealm);
  EXPECT_TRUE(c->qop_auth);
  auto verdict = auth_.verify(answered(r, *c, "secret"), kRealm, false);
  EXPECT_TRUE(verdict.ok()) << verdict.reason;
  EXPECT_EQ(verdict.algorithm, Algorithm::kSha256);
  EXPECT_EQ(verdict.username, "alice");
}

TEST_F(DigestClientTest, Md5WhenTheServerOffersOnlyMd5) {
  auth_.set_algorithms({Algorithm::kMd5});
  Message r = request("MESSAGE");
  auto c = pick_challenge(challenged(r, true));
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->algorithm, Algorithm::kMd5);
  EXPECT_TRUE(c->proxy);
  auto verdict = auth_.verify(answered(r, *c, "secret"), kRealm, true);
  EXPECT_TRUE(verdict.ok()) << verdict.reason;
  EXPECT_EQ(verdict.algorithm, Algorithm::kMd5);
}

TEST_F(DigestClientTest, AWrongPasswordIsRefused) {
  Message r = request("REGISTER");
  auto c = pick_challenge(challenged(r, false));
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(auth_.verify(answered(r, *c, "wrong"), kRealm, false).outcome,
            services::auth::Outcome::kBadCredentials);
}

TEST_F(DigestClientTest, ANonceIsReusedWithARisingCountAndAReplayIsRefused) {
  Message r = request("MESSAGE");
  auto c = pick_challenge(challenged(r, true));
  ASSERT_TRUE(c.has_value());
  EXPECT_TRUE(auth_.verify(answered(r, *c, "secret", 1), kRealm, true).ok());
  EXPECT_TRUE(auth_.verify(answered(r, *c, "secret", 2), kRealm, true).ok());
  EXPECT_FALSE(auth_.verify(answered(r, *c, "secret", 2), kRealm, true).ok());  // nc seen
}

TEST_F(DigestClientTest, CredentialsCarryEveryFieldOfTheChallenge) {
  DigestChallenge c;
  c.algorithm = Algorithm::kMd5;
  c.realm = "a \"quoted\" realm";
  c.nonce = "n1";
  c.opaque = "op";
  c.has_opaque = true;
  c.qop_auth = true;
  const std::string text = credentials(c, "alice", "secret", "REGISTER", "sip:example.com", 10, "cn");
  auto value = sip::parse_auth(text);
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(value->scheme, "Digest");
  EXPECT_EQ(services::auth::unescape_quoted(*value->param("realm")), c.realm);
  EXPECT_EQ(value->param("nonce"), "n1");
  EXPECT_EQ(value->param("uri"), "sip:example.com");
  EXPECT_EQ(value->param("nc"), "0000000a");
  EXPECT_EQ(value->param("cnonce"), "cn");
  EXPECT_EQ(value->param("qop"), "auth");
  EXPECT_EQ(value->param("opaque"), "op");
  EXPECT_EQ(value->param("algorithm"), "MD5");
  const std::string a1 = services::auth::ha1(Algorithm::kMd5, "alice", c.realm, "secret");
  const std::string a2 = services::auth::ha2(Algorithm::kMd5, "REGISTER", "sip:example.com");
  EXPECT_EQ(value->param("response"), services::auth::response(Algorithm::kMd5, a1, "n1", "0000000a", "cn", "auth", a2));
}

TEST_F(DigestClientTest, WithoutQopTheAnswerIsRfc2069s) {
  Message response = parse(
      "SIP/2.0 401 Unauthorized\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCall-ID: x\r\nCSeq: 1 REGISTER\r\n"
      "WWW-Authenticate: Digest realm=\"example.com\", nonce=\"abc\"\r\nContent-Length: 0\r\n\r\n");
  auto c = pick_challenge(response);
  ASSERT_TRUE(c.has_value());
  EXPECT_FALSE(c->qop_auth);
  EXPECT_EQ(c->algorithm, Algorithm::kMd5);  // the default without algorithm=
  const std::string text = credentials(*c, "alice", "secret", "REGISTER", "sip:example.com", 1, "cn");
  auto value = sip::parse_auth(text);
  ASSERT_TRUE(value.ok());
  EXPECT_FALSE(value->param("qop"));
  EXPECT_FALSE(value->param("nc"));
  const std::string a1 = services::auth::ha1(Algorithm::kMd5, "alice", "example.com", "secret");
  EXPECT_EQ(value->param("response"),
            services::auth::response_rfc2069(Algorithm::kMd5, a1, "abc",
                                             services::auth::ha2(Algorithm::kMd5, "REGISTER", "sip:example.com")));
}

TEST_F(DigestClientTest, ChallengesThatCannotBeAnsweredAreSkipped) {
  const std::string head = "SIP/2.0 401 Unauthorized\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCall-ID: x\r\nCSeq: 1 REGISTER\r\n";
  // Basic, MD5-sess, auth-int only, no nonce: nothing to answer.
  Message none = parse(head +
                       "WWW-Authenticate: Basic realm=\"x\"\r\n"
                       "WWW-Authenticate: Digest realm=\"x\", nonce=\"a\", algorithm=MD5-sess\r\n"
                       "WWW-Authenticate: Digest realm=\"x\", nonce=\"a\", qop=\"auth-int\"\r\n"
                       "WWW-Authenticate: Digest realm=\"x\"\r\n"
                       "Content-Length: 0\r\n\r\n");
  EXPECT_FALSE(pick_challenge(none).has_value());
  // A usable one after them is found; MD5 first, SHA-256 later: SHA-256 wins.
  Message some = parse(head +
                       "WWW-Authenticate: Basic realm=\"x\"\r\n"
                       "WWW-Authenticate: Digest realm=\"x\", nonce=\"m\", algorithm=MD5, qop=\"auth-int,auth\"\r\n"
                       "WWW-Authenticate: Digest realm=\"x\", nonce=\"s\", algorithm=SHA-256, qop=\"auth\", stale=TRUE\r\n"
                       "Content-Length: 0\r\n\r\n");
  auto c = pick_challenge(some);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->nonce, "s");
  EXPECT_TRUE(c->stale);
  // A 407 is read from Proxy-Authenticate only.
  Message proxy = parse(
      "SIP/2.0 407 Proxy Authentication Required\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCall-ID: x\r\n"
      "CSeq: 1 MESSAGE\r\nWWW-Authenticate: Digest realm=\"x\", nonce=\"w\"\r\n"
      "Proxy-Authenticate: Digest realm=\"x\", nonce=\"p\"\r\nContent-Length: 0\r\n\r\n");
  auto p = pick_challenge(proxy);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->nonce, "p");
  EXPECT_TRUE(p->proxy);
}

}  // namespace
}  // namespace herald::client
