#include "services/auth/authenticator.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <utility>

#include "sip/msg/headers.h"
#include "sip/msg/message.h"

namespace herald::services::auth {
namespace {

using sip::HeaderId;
using sip::Message;

constexpr const char* kRealm = "example.com";

struct ClientParams {
  std::string username = "alice";
  std::string password = "secret";
  std::string realm = kRealm;
  Algorithm algorithm = Algorithm::kSha256;
  bool send_algorithm = true;
  std::string nc = "00000001";
  std::string cnonce = "0a4f113b";
  std::string uri = "sip:example.com";
  std::string method = "REGISTER";
};

// What a UAC sends after a challenge, computed with the digest functions.
std::string credentials(const std::string& nonce, const ClientParams& p = {}) {
  std::string a1 = ha1(p.algorithm, p.username, p.realm, p.password);
  std::string a2 = ha2(p.algorithm, p.method, p.uri);
  std::string r = response(p.algorithm, a1, nonce, p.nc, p.cnonce, "auth", a2);
  std::string v = "Digest username=\"" + p.username + "\", realm=\"" + p.realm + "\", nonce=\"" +
                  nonce + "\", uri=\"" + p.uri + "\", response=\"" + r + "\"";
  if (p.send_algorithm) v += ", algorithm=" + std::string(algorithm_name(p.algorithm));
  v += ", qop=auth, nc=" + p.nc + ", cnonce=\"" + p.cnonce + "\"";
  return v;
}

Message request(const std::string& start_line, const std::string& extra_headers) {
  std::string text = start_line +
                     "\r\n"
                     "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds\r\n"
                     "Max-Forwards: 70\r\n"
                     "To: <sip:alice@example.com>\r\n"
                     "From: <sip:alice@Example.COM>;tag=1928301774\r\n"
                     "Call-ID: a84b4c76e66710@pc33.example.com\r\n"
                     "CSeq: 2 REGISTER\r\n" +
                     extra_headers + "Content-Length: 0\r\n\r\n";
  auto parsed = sip::parse_message(std::move(text));
  EXPECT_TRUE(parsed.ok()) << parsed.why();
  return std::move(parsed).value();
}

Message register_with(const std::string& authorization) {
  return request("REGISTER sip:example.com SIP/2.0",
                 authorization.empty() ? "" : "Authorization: " + authorization + "\r\n");
}

class AuthenticatorTest : public ::testing::Test {
 protected:
  AuthenticatorTest() {
    add_user("alice", "secret");
    add_user("bob", "hunter2");
  }

  void add_user(const std::string& name, const std::string& password) {
    users_[name] = Credentials{ha1(Algorithm::kMd5, name, kRealm, password),
                               ha1(Algorithm::kSha256, name, kRealm, password)};
  }

  std::string nonce(bool proxy = false) {
    Challenge c = auth_.challenge(kRealm, false, proxy);
    auto v = sip::parse_auth(c.values.at(0));
    EXPECT_TRUE(v.ok());
    return std::string(v->param("nonce").value_or(""));
  }

  Verdict verify(const std::string& authorization) {
    return auth_.verify(register_with(authorization), false);
  }

  std::int64_t now_ = 1'700'000'000;
  Clock clock_ = [this] { return now_; };
  NonceFactory factory_{std::string(32, 'k'), clock_};
  NonceCounts counts_{clock_};
  std::map<std::string, Credentials, std::less<>> users_;
  int lookups_ = 0;
  Authenticator auth_{factory_, counts_,
                      [this](std::string_view user, std::string_view realm)
                          -> std::optional<Credentials> {
                        ++lookups_;
                        auto it = users_.find(user);
                        if (realm != kRealm || it == users_.end()) return std::nullopt;
                        return it->second;
                      }};
};

TEST_F(AuthenticatorTest, ChallengeOffersSha256ThenMd5) {
  Challenge c = auth_.challenge(kRealm, false, false);
  EXPECT_EQ(c.header, HeaderId::kWwwAuthenticate);
  ASSERT_EQ(c.values.size(), 2U);
  auto sha = sip::parse_auth(c.values[0]);
  auto md5 = sip::parse_auth(c.values[1]);
  ASSERT_TRUE(sha.ok() && md5.ok());
  EXPECT_EQ(sha->scheme, "Digest");
  EXPECT_EQ(sha->param("realm"), "example.com");
  EXPECT_EQ(sha->param("algorithm"), "SHA-256");
  EXPECT_EQ(sha->param("qop"), "auth");
  EXPECT_FALSE(sha->param("stale"));
  EXPECT_EQ(md5->param("algorithm"), "MD5");
  EXPECT_EQ(md5->param("qop"), "auth");
  EXPECT_EQ(factory_.check(std::string(*sha->param("nonce")), kRealm), NonceStatus::kValid);
  EXPECT_NE(c.values[0].find("qop=\"auth\""), std::string::npos);

  Challenge stale = auth_.challenge(kRealm, true, true);
  EXPECT_EQ(stale.header, HeaderId::kProxyAuthenticate);
  for (const auto& v : stale.values) EXPECT_EQ(sip::parse_auth(v)->param("stale"), "true");
}

TEST_F(AuthenticatorTest, AddChallengeToResponse) {
  Message req = register_with("");
  Message resp = sip::make_response(req, 401, "Unauthorized");
  auth_.add_challenge(resp, kRealm, false, false);
  EXPECT_EQ(resp.count(HeaderId::kWwwAuthenticate), 2U);
  auto all = resp.get_all<sip::hdr::WwwAuthenticate>();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->at(0).param("algorithm"), "SHA-256");
  EXPECT_EQ(all->at(1).param("algorithm"), "MD5");
  // Round trip through the wire format.
  auto reparsed = sip::parse_message(sip::serialize(resp));
  ASSERT_TRUE(reparsed.ok());
  EXPECT_EQ(reparsed->count(HeaderId::kWwwAuthenticate), 2U);
}

TEST_F(AuthenticatorTest, RealmIsTheAorDomain) {
  EXPECT_EQ(auth_.realm_for(register_with("")), "example.com");
  Authenticator mapped(factory_, counts_, {}, [](std::string_view domain) {
    return "realm-of-" + std::string(domain);
  });
  EXPECT_EQ(mapped.realm_for(register_with("")), "realm-of-example.com");
}

TEST_F(AuthenticatorTest, NoCredentials) {
  Verdict v = verify("");
  EXPECT_EQ(v.outcome, Outcome::kNoCredentials);
  EXPECT_EQ(v.realm, kRealm);
  // Other schemes are not credentials for us.
  EXPECT_EQ(verify("Basic YWxpY2U6c2VjcmV0").outcome, Outcome::kNoCredentials);
  Message basic_then_digest = request("REGISTER sip:example.com SIP/2.0",
                                      "Authorization: Basic YWxpY2U6c2VjcmV0\r\n"
                                      "Authorization: " + credentials(nonce()) + "\r\n");
  EXPECT_EQ(auth_.verify(basic_then_digest, false).outcome, Outcome::kOk);
}

TEST_F(AuthenticatorTest, Sha256Ok) {
  Verdict v = verify(credentials(nonce()));
  EXPECT_EQ(v.outcome, Outcome::kOk) << v.reason;
  EXPECT_TRUE(v.ok());
  EXPECT_EQ(v.username, "alice");
  EXPECT_EQ(v.realm, kRealm);
  EXPECT_EQ(v.algorithm, Algorithm::kSha256);
}

TEST_F(AuthenticatorTest, Md5Ok) {
  ClientParams p;
  p.algorithm = Algorithm::kMd5;
  Verdict v = verify(credentials(nonce(), p));
  EXPECT_EQ(v.outcome, Outcome::kOk) << v.reason;
  EXPECT_EQ(v.algorithm, Algorithm::kMd5);
}

TEST_F(AuthenticatorTest, MissingAlgorithmMeansMd5) {
  ClientParams p;
  p.algorithm = Algorithm::kMd5;
  p.send_algorithm = false;
  EXPECT_EQ(verify(credentials(nonce(), p)).outcome, Outcome::kOk);
  p.algorithm = Algorithm::kSha256;  // a SHA-256 digest without algorithm= is read as MD5
  EXPECT_EQ(verify(credentials(nonce(), p)).outcome, Outcome::kMalformed);
}

TEST_F(AuthenticatorTest, WrongPasswordAndUnknownUserLookTheSame) {
  ClientParams wrong;
  wrong.password = "guess";
  Verdict a = verify(credentials(nonce(), wrong));
  ClientParams unknown;
  unknown.username = "mallory";
  Verdict b = verify(credentials(nonce(), unknown));
  EXPECT_EQ(a.outcome, Outcome::kBadCredentials);
  EXPECT_EQ(b.outcome, Outcome::kBadCredentials);
  EXPECT_EQ(a.reason, b.reason);
  EXPECT_EQ(a.username, b.username);
  EXPECT_EQ(lookups_, 2);
  // Another user's password is wrong too.
  ClientParams swapped;
  swapped.password = "hunter2";
  EXPECT_EQ(verify(credentials(nonce(), swapped)).outcome, Outcome::kBadCredentials);
}

// With a throttle: failures and successes are reported per source and account, and a guarded
// account's credentials from a source it does not know are not checked at all.
TEST_F(AuthenticatorTest, TheThrottleHearsEveryVerdictAndGuardsAnAccount) {
  ThrottleConfig config;
  config.account_failures = 3;
  auto steady = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  Throttle throttle(config, [&] { return steady; });
  auth_.set_throttle(&throttle);
  const auto phone = boost::asio::ip::make_address("198.51.100.7");
  const auto attacker = boost::asio::ip::make_address("203.0.113.5");
  auto verify_from = [&](const std::string& authorization, const boost::asio::ip::address& source) {
    return auth_.verify(register_with(authorization), false, &source);
  };
  EXPECT_EQ(verify_from(credentials(nonce()), phone).outcome, Outcome::kOk);  // alice's phone is known now
  ClientParams wrong;
  wrong.password = "guess";
  for (int i = 0; i < 4; ++i) {
    wrong.nc = "0000000" + std::to_string(i + 1);
    EXPECT_EQ(verify_from(credentials(nonce(), wrong), attacker).outcome, Outcome::kBadCredentials);
  }
  EXPECT_EQ(throttle.counters().failures, 4u);
  EXPECT_EQ(throttle.counters().account_guards, 1u);
  const int lookups = lookups_;
  const Verdict refused = verify_from(credentials(nonce(), wrong), attacker);
  EXPECT_EQ(refused.outcome, Outcome::kThrottled);
  EXPECT_GT(refused.retry_after, 0u);
  EXPECT_EQ(lookups_, lookups);  // not checked
  ClientParams again;
  again.nc = "00000002";
  EXPECT_EQ(verify_from(credentials(nonce(), again), phone).outcome, Outcome::kOk);  // its own device
  // Without a source (no throttle asked) the verdict is the plain one.
  EXPECT_EQ(verify(credentials(nonce(), wrong)).outcome, Outcome::kBadCredentials);
}

TEST_F(AuthenticatorTest, UserWithoutHa1ForTheAlgorithmIsBadCredentials) {
  users_["alice"].ha1_sha256.clear();
  EXPECT_EQ(verify(credentials(nonce())).outcome, Outcome::kBadCredentials);
  ClientParams p;
  p.algorithm = Algorithm::kMd5;
  EXPECT_EQ(verify(credentials(nonce(), p)).outcome, Outcome::kOk);
}

TEST_F(AuthenticatorTest, Malformed) {
  const std::string n = nonce();
  auto expect_malformed = [&](const std::string& value) {
    Verdict v = verify(value);
    EXPECT_EQ(v.outcome, Outcome::kMalformed) << value;
    EXPECT_FALSE(v.reason.empty()) << value;
    return std::string(v.reason);
  };
  EXPECT_EQ(expect_malformed("Digest username=\"alice\", realm=\"example.com\", "
                             "uri=\"sip:example.com\", response=\"" +
                             std::string(64, 'a') + "\", algorithm=SHA-256, qop=auth, "
                             "nc=00000001, cnonce=\"x\""),
            "missing digest nonce");
  expect_malformed("Digest username=\"alice\", realm=\"example.com\", junk\"");
  expect_malformed("Digest username=\"alice\", nonce=\"" + n + "\"");  // no realm
  std::string good = credentials(n);
  auto without = [&](const std::string& param) {
    if (param == "username") return "Digest " + good.substr(good.find(", ") + 2);
    std::size_t at = good.find(", " + param + "=");
    std::size_t end = good.find(", ", at + 2);
    return good.substr(0, at) + (end == std::string::npos ? "" : good.substr(end));
  };
  EXPECT_EQ(expect_malformed(without("username")), "missing digest username");
  EXPECT_EQ(expect_malformed(without("uri")), "missing digest uri");
  EXPECT_EQ(expect_malformed(without("response")), "missing digest response");
  EXPECT_EQ(expect_malformed(without("qop")), "digest qop required");
  EXPECT_EQ(expect_malformed(without("cnonce")), "missing digest cnonce");
  EXPECT_EQ(expect_malformed(without("nc")), "bad digest nc");
  std::string auth_int = good;
  auth_int.replace(auth_int.find("qop=auth"), 8, "qop=auth-int");
  EXPECT_EQ(expect_malformed(auth_int), "digest qop not auth");
  for (const char* nc : {"1", "0000000g", "000000001", "00000000"}) {
    ClientParams p;
    p.nc = nc;
    EXPECT_EQ(expect_malformed(credentials(n, p)), "bad digest nc") << nc;
  }
}

TEST_F(AuthenticatorTest, UnsupportedAlgorithm) {
  for (const char* alg : {"SHA-512-256", "MD5-sess", "SHA-256-sess"}) {
    std::string value = credentials(nonce());
    value.replace(value.find("algorithm=SHA-256"), 17, std::string("algorithm=") + alg);
    Verdict v = verify(value);
    EXPECT_EQ(v.outcome, Outcome::kUnsupportedAlgorithm) << alg;
    EXPECT_FALSE(v.stale_challenge());
  }
}

TEST_F(AuthenticatorTest, ReplayedNonceCount) {
  const std::string n = nonce();
  const std::string first = credentials(n);
  EXPECT_EQ(verify(first).outcome, Outcome::kOk);
  Verdict again = verify(first);
  EXPECT_EQ(again.outcome, Outcome::kReplay);
  EXPECT_TRUE(again.stale_challenge());
  ClientParams p;
  p.nc = "00000002";
  EXPECT_EQ(verify(credentials(n, p)).outcome, Outcome::kOk);
  EXPECT_EQ(verify(credentials(n, p)).outcome, Outcome::kReplay);
}

TEST_F(AuthenticatorTest, BadDigestDoesNotUseUpTheNonceCount) {
  const std::string n = nonce();
  ClientParams wrong;
  wrong.password = "guess";
  EXPECT_EQ(verify(credentials(n, wrong)).outcome, Outcome::kBadCredentials);
  EXPECT_EQ(verify(credentials(n)).outcome, Outcome::kOk);
}

TEST_F(AuthenticatorTest, StaleNonce) {
  const std::string n = nonce();
  now_ += NonceFactory::kDefaultLifetime + 1;
  Verdict v = verify(credentials(n));
  EXPECT_EQ(v.outcome, Outcome::kStale);
  EXPECT_TRUE(v.stale_challenge());
  // stale=true only when the digest itself is right.
  ClientParams wrong;
  wrong.password = "guess";
  EXPECT_EQ(verify(credentials(n, wrong)).outcome, Outcome::kBadCredentials);
}

TEST_F(AuthenticatorTest, NonceFromAnotherSecretIsStaleWhenTheDigestIsRight) {
  NonceFactory before_restart(std::string(32, 'z'), clock_);
  std::string foreign = before_restart.make(kRealm);
  EXPECT_EQ(verify(credentials(foreign)).outcome, Outcome::kStale);
  ClientParams wrong;
  wrong.password = "guess";
  EXPECT_EQ(verify(credentials(foreign, wrong)).outcome, Outcome::kBadCredentials);
  EXPECT_EQ(verify(credentials("made-up")).outcome, Outcome::kStale);
}

TEST_F(AuthenticatorTest, WrongRealm) {
  ClientParams p;
  p.realm = "other.net";
  Verdict v = verify(credentials(factory_.make("other.net"), p));
  EXPECT_EQ(v.outcome, Outcome::kWrongRealm);
  EXPECT_EQ(v.realm, kRealm);
  // Credentials for several realms: ours is picked whatever its position.
  Message both = request("REGISTER sip:example.com SIP/2.0",
                         "Authorization: " + credentials(factory_.make("other.net"), p) +
                             "\r\nAuthorization: " + credentials(nonce()) + "\r\n");
  EXPECT_EQ(auth_.verify(both, false).outcome, Outcome::kOk);
}

TEST_F(AuthenticatorTest, UriMustMatchRequestUri) {
  ClientParams p;
  p.uri = "sip:elsewhere.example.com";
  Verdict v = verify(credentials(nonce(), p));
  EXPECT_EQ(v.outcome, Outcome::kMalformed);
  EXPECT_EQ(v.reason, "digest uri does not match Request-URI");
  // Compared as URIs: host case does not matter. The digest uses the uri as sent.
  p.uri = "sip:EXAMPLE.com";
  EXPECT_EQ(verify(credentials(nonce(), p)).outcome, Outcome::kOk);
}

TEST_F(AuthenticatorTest, ProxyAuthorization) {
  ClientParams p;
  p.method = "INVITE";
  p.uri = "sip:bob@example.com";
  const std::string n = nonce(true);
  Message invite =
      request("INVITE sip:bob@example.com SIP/2.0", "Proxy-Authorization: " + credentials(n, p) +
                                                        "\r\n");
  // The realm comes from From (alice@Example.COM, lower-cased) for requests other than
  // REGISTER.
  EXPECT_EQ(auth_.realm_for(invite), kRealm);
  EXPECT_EQ(auth_.verify(invite, false).outcome, Outcome::kNoCredentials);
  Verdict v = auth_.verify(invite, true);
  EXPECT_EQ(v.outcome, Outcome::kOk) << v.reason;
  EXPECT_EQ(v.username, "alice");
  // Authorization is not Proxy-Authorization.
  Message with_authorization = request("INVITE sip:bob@example.com SIP/2.0",
                                       "Authorization: " + credentials(n, p) + "\r\n");
  EXPECT_EQ(auth_.verify(with_authorization, true).outcome, Outcome::kNoCredentials);
}

}  // namespace
}  // namespace herald::services::auth

namespace herald::services::auth {
namespace {

TEST_F(AuthenticatorTest, ConfiguredAlgorithmsSetOfferAndOrder) {
  auth_.set_algorithms({Algorithm::kMd5});
  Challenge only_md5 = auth_.challenge(kRealm, false, false);
  ASSERT_EQ(only_md5.values.size(), 1u);
  EXPECT_NE(only_md5.values[0].find("algorithm=MD5"), std::string::npos);
  // SHA-256 credentials are now an algorithm we did not offer.
  EXPECT_EQ(verify(credentials(nonce())).outcome, Outcome::kUnsupportedAlgorithm);
  ClientParams md5;
  md5.algorithm = Algorithm::kMd5;
  EXPECT_EQ(verify(credentials(nonce(), md5)).outcome, Outcome::kOk);

  auth_.set_algorithms({Algorithm::kMd5, Algorithm::kSha256});
  Challenge both = auth_.challenge(kRealm, false, false);
  ASSERT_EQ(both.values.size(), 2u);
  EXPECT_NE(both.values[0].find("algorithm=MD5"), std::string::npos);
  EXPECT_NE(both.values[1].find("algorithm=SHA-256"), std::string::npos);
}

}  // namespace
}  // namespace herald::services::auth
