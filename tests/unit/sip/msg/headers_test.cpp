#include "sip/msg/headers.h"

#include <gtest/gtest.h>

#include <array>

namespace herald::sip {
namespace {

TEST(Via, AllParts) {
  auto v = parse_via("SIP/2.0/UDP [2001:db8::9]:5070;branch=z9hG4bK77;rport;received=192.0.2.4;maddr=224.2.0.1");
  ASSERT_TRUE(v.ok()) << v.why();
  EXPECT_EQ(v->transport, "UDP");
  EXPECT_TRUE(v->ipv6);
  EXPECT_EQ(v->host, "2001:db8::9");
  EXPECT_EQ(v->port, 5070);
  EXPECT_EQ(v->branch(), "z9hG4bK77");
  EXPECT_TRUE(v->rfc3261_branch());
  EXPECT_EQ(v->rport(), "");
  EXPECT_EQ(v->received(), "192.0.2.4");
  EXPECT_EQ(v->maddr(), "224.2.0.1");
}

TEST(Via, Rejections) {
  EXPECT_TRUE(parse_via("SIP/2.0 host").malformed());
  EXPECT_TRUE(parse_via("SIP/2.0/UDP").malformed());
  EXPECT_TRUE(parse_via("SIP/2.0/UDP host;;").malformed());
  EXPECT_TRUE(parse_via("SIP/2.0/UDP host;branch=").malformed());
  EXPECT_TRUE(parse_via("SIP/2.0/UDP host;received=not an ip").malformed());
  EXPECT_TRUE(parse_via("SIP/2.0/UDP host;rport=99999").malformed());
  EXPECT_TRUE(parse_via("SIP/2.0/UDP host:0").malformed());
}

// The parameters' grammar, received, rport and branch are checked in one pass; each bad one
// names itself. The first of a repeated parameter is the one the accessors return and check.
TEST(Via, ParameterRejectionsSayWhich) {
  EXPECT_EQ(parse_via("SIP/2.0/UDP host;received=example.com").why(), "bad Via received");
  EXPECT_EQ(parse_via("SIP/2.0/UDP host;received").why(), "bad Via received");
  EXPECT_EQ(parse_via("SIP/2.0/UDP host;rport=99999").why(), "bad Via rport");
  EXPECT_EQ(parse_via("SIP/2.0/UDP host;rport=x1").why(), "bad Via rport");
  EXPECT_EQ(parse_via("SIP/2.0/UDP host;branch").why(), "empty Via branch");
  EXPECT_EQ(parse_via("SIP/2.0/UDP host;branch=z9hG4bK1;=x").why(), "bad Via parameter");
  auto twice = parse_via("SIP/2.0/UDP host;RPORT;rport=x;Branch=z9hG4bK2;branch");
  ASSERT_TRUE(twice.ok()) << twice.why();
  EXPECT_EQ(twice->rport(), "");
  EXPECT_EQ(twice->branch(), "z9hG4bK2");
}

TEST(NameAddr, Forms) {
  auto a = parse_name_addr(R"("Alice \"A\"" <sip:alice@example.com;transport=tcp>;tag=abc)");
  ASSERT_TRUE(a.ok()) << a.why();
  EXPECT_TRUE(a->quoted_display_name);
  EXPECT_EQ(a->display_name, R"(Alice \"A\")");
  EXPECT_EQ(a->uri.transport(), "tcp");
  EXPECT_EQ(a->tag(), "abc");
  auto b = parse_name_addr("sip:bob@example.com;tag=xyz");
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(b->angle_brackets);
  EXPECT_EQ(b->tag(), "xyz");
  EXPECT_FALSE(b->uri.has_param("tag"));
  auto c = parse_name_addr("Bob Smith <tel:+1234>");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->display_name, "Bob Smith");
  EXPECT_EQ(c->uri.scheme, UriScheme::kTel);
}

TEST(NameAddr, Rejections) {
  EXPECT_EQ(parse_name_addr("\"open <sip:a@b>").why(), "unterminated quoted string");
  EXPECT_EQ(parse_name_addr("<sip:a@b").why(), "missing '>'");
  EXPECT_EQ(parse_name_addr("Bell, A <sip:a@b>").why(), "bad display name");
  EXPECT_EQ(parse_name_addr("sip:a@b?x=y").why(), "addr-spec needs <> around this URI");
  EXPECT_TRUE(parse_name_addr("< sip:a@b >").malformed());
  EXPECT_EQ(parse_name_addr("<sip:a@b>;;").why(), "bad header parameter");
}

TEST(Contact, StarExpiresQ) {
  EXPECT_TRUE(parse_contact("*")->star);
  auto c = parse_contact("<sip:a@b>;expires=3600;q=0.7;+sip.instance=\"<urn:uuid:1>\"");
  ASSERT_TRUE(c.ok()) << c.why();
  EXPECT_EQ(c->expires(), 3600u);
  EXPECT_EQ(c->q(), 700);
  EXPECT_EQ(c->address.params.find("+sip.instance"), "\"<urn:uuid:1>\"");
  EXPECT_EQ(parse_contact("<sip:a@b>;expires=99999999999999")->expires(), 4294967295u);
  EXPECT_TRUE(parse_contact("<sip:a@b>;q=1.5").malformed());
  EXPECT_TRUE(parse_contact("<sip:a@b>;q=0.1234").malformed());
  EXPECT_TRUE(parse_contact("<sip:a@b>;expires=soon").malformed());
}

TEST(CSeq, NumberAndMethod) {
  auto c = parse_cseq("4711 INVITE");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->number, 4711u);
  EXPECT_EQ(c->method, Method::kInvite);
  EXPECT_EQ(parse_cseq("2147483647 ACK")->number, 2147483647u);
  EXPECT_TRUE(parse_cseq("2147483648 ACK").malformed());
  EXPECT_TRUE(parse_cseq("-1 ACK").malformed());
  EXPECT_TRUE(parse_cseq("1").malformed());
  EXPECT_TRUE(parse_cseq("1 INVITE extra").malformed());
}

TEST(Event, PackageAndId) {
  auto e = parse_event("presence.winfo;id=17");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->package, "presence.winfo");
  EXPECT_EQ(e->id(), "17");
  EXPECT_TRUE(parse_event("").malformed());
}

TEST(SubscriptionState, Params) {
  auto s = parse_subscription_state("terminated;reason=timeout;retry-after=30");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->state, "terminated");
  EXPECT_EQ(s->reason(), "timeout");
  EXPECT_EQ(s->retry_after(), 30u);
  EXPECT_EQ(parse_subscription_state("active;expires=600")->expires(), 600u);
}

TEST(MediaType, TypeParamsAndRanges) {
  auto m = parse_media_type("application/pidf+xml;charset=UTF-8");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->subtype, "pidf+xml");
  EXPECT_EQ(m->params.find("charset"), "UTF-8");
  EXPECT_TRUE(m->matches("Application/PIDF+XML"));
  EXPECT_TRUE(parse_media_range("*/*")->matches("text/plain"));
  EXPECT_TRUE(parse_media_range("text/*")->matches("text/plain"));
  EXPECT_FALSE(parse_media_range("text/*")->matches("application/sdp"));
  EXPECT_TRUE(parse_media_type("*/*").malformed());
  EXPECT_TRUE(parse_media_type("text").malformed());
}

TEST(Auth, DigestParams) {
  auto a = parse_auth(R"(Digest username="alice", realm="example.com", nonce="a,b", uri="sip:example.com", qop=auth, nc=00000001, algorithm=SHA-256)");
  ASSERT_TRUE(a.ok()) << a.why();
  EXPECT_EQ(a->scheme, "Digest");
  EXPECT_EQ(a->param("username"), "alice");
  EXPECT_EQ(a->param("nonce"), "a,b");
  EXPECT_EQ(a->param("qop"), "auth");
  EXPECT_EQ(a->param("ALGORITHM"), "SHA-256");
  EXPECT_FALSE(a->param("cnonce").has_value());
  EXPECT_TRUE(parse_auth("Digest username=\"open").malformed());
  EXPECT_TRUE(parse_auth("Digest =x").malformed());
  EXPECT_TRUE(parse_auth("NoOneKnowsThisScheme opaque-data=here").ok());
}

// Several parameters found in one pass give what param() gives for each: names matched
// without regard to case, the first of a repeated name, commas inside quotes kept, absent
// ones nullopt (also when `out` held values before).
TEST(Auth, FindParamsInOnePassAgreesWithParam) {
  auto a = parse_auth(
      R"(Digest Username="alice", realm="example.com", nonce="a,b", uri="sip:example.com", nonce="second", qop=auth)");
  ASSERT_TRUE(a.ok()) << a.why();
  const std::array<std::string_view, 5> names = {"qop", "username", "nonce", "cnonce", "realm"};
  std::array<std::optional<std::string_view>, 5> out = {"stale", "stale", "stale", "stale", "stale"};
  a->find_params(names, out);
  EXPECT_EQ(out[0], "auth");
  EXPECT_EQ(out[1], "alice");
  EXPECT_EQ(out[2], "a,b");
  EXPECT_FALSE(out[3].has_value());
  EXPECT_EQ(out[4], "example.com");
  for (std::size_t i = 0; i < names.size(); ++i) EXPECT_EQ(out[i], a->param(names[i])) << names[i];
}

TEST(Scalars, LimitsAndSaturation) {
  EXPECT_EQ(parse_max_forwards("70").value(), 70u);
  EXPECT_TRUE(parse_max_forwards("256").malformed());
  EXPECT_EQ(parse_delta_seconds("100000000000000000000").value(), 4294967295u);
  EXPECT_TRUE(parse_delta_seconds("-5").malformed());
  EXPECT_TRUE(parse_content_length("-999").malformed());
  EXPECT_EQ(parse_retry_after("120 (lunch);duration=60")->comment, "lunch");
  EXPECT_TRUE(parse_call_id("abc@def").ok());
  EXPECT_TRUE(parse_call_id("a b").malformed());
  EXPECT_TRUE(parse_date("Sat, 13 Nov 2010 23:29:00 GMT").ok());
  EXPECT_TRUE(parse_date("Sat, 13 Nov 2010 23:29:00 EST").malformed());
  EXPECT_TRUE(parse_token("presence").ok());
  EXPECT_TRUE(parse_token("pres ence").malformed());
}

TEST(HeaderTable, NamesAndCompactForms) {
  EXPECT_EQ(header_id("via"), HeaderId::kVia);
  EXPECT_EQ(header_id("V"), HeaderId::kVia);
  EXPECT_EQ(header_id("i"), HeaderId::kCallId);
  EXPECT_EQ(header_id("m"), HeaderId::kContact);
  EXPECT_EQ(header_id("e"), HeaderId::kContentEncoding);
  EXPECT_EQ(header_id("l"), HeaderId::kContentLength);
  EXPECT_EQ(header_id("c"), HeaderId::kContentType);
  EXPECT_EQ(header_id("f"), HeaderId::kFrom);
  EXPECT_EQ(header_id("t"), HeaderId::kTo);
  EXPECT_EQ(header_id("k"), HeaderId::kSupported);
  EXPECT_EQ(header_id("s"), HeaderId::kSubject);
  EXPECT_EQ(header_id("o"), HeaderId::kEvent);
  EXPECT_EQ(header_id("u"), HeaderId::kAllowEvents);
  EXPECT_EQ(header_id("r"), HeaderId::kReferTo);
  EXPECT_EQ(header_id("b"), HeaderId::kReferredBy);
  EXPECT_EQ(header_id("sip-etag"), HeaderId::kSipETag);
  EXPECT_EQ(header_id("SIP-If-Match"), HeaderId::kSipIfMatch);
  EXPECT_EQ(header_id("X-Custom"), HeaderId::kOther);
  EXPECT_EQ(header_id("x"), HeaderId::kOther);
  EXPECT_EQ(header_info(HeaderId::kWwwAuthenticate).name, "WWW-Authenticate");
}

}  // namespace
}  // namespace herald::sip
