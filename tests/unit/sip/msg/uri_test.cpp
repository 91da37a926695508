#include "sip/msg/uri.h"

#include <gtest/gtest.h>

namespace herald::sip {
namespace {

TEST(Uri, SipWithEverything) {
  auto u = parse_uri("sips:alice:secret@Example.COM:5061;transport=tcp;lr?Subject=hi&Priority=urgent");
  ASSERT_TRUE(u.ok()) << u.why();
  EXPECT_EQ(u->scheme, UriScheme::kSips);
  EXPECT_EQ(u->user, "alice");
  EXPECT_EQ(u->password, "secret");
  EXPECT_EQ(u->host, "Example.COM");
  EXPECT_EQ(u->port, 5061);
  EXPECT_EQ(u->transport(), "tcp");
  EXPECT_TRUE(u->has_param("lr"));
  EXPECT_EQ(u->param("lr"), "");
  EXPECT_EQ(u->headers, "Subject=hi&Priority=urgent");
}

TEST(Uri, HostOnlyAndIpv6) {
  auto a = parse_uri("sip:example.com");
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(a->has_user);
  EXPECT_EQ(a->port, 0);
  auto b = parse_uri("sip:bob@[2001:db8::10]:5070;maddr=[2001:db8::1]");
  ASSERT_TRUE(b.ok()) << b.why();
  EXPECT_TRUE(b->ipv6);
  EXPECT_EQ(b->host, "2001:db8::10");
  EXPECT_EQ(b->port, 5070);
  EXPECT_EQ(b->param("maddr"), "[2001:db8::1]");
}

TEST(Uri, Tel) {
  auto t = parse_uri("tel:+1-201-555-0123;phone-context=example.com");
  ASSERT_TRUE(t.ok()) << t.why();
  EXPECT_EQ(t->scheme, UriScheme::kTel);
  EXPECT_EQ(t->opaque, "+1-201-555-0123");
  EXPECT_EQ(t->param("phone-context"), "example.com");
  auto same = parse_uri("tel:+12015550123;phone-context=example.com");
  EXPECT_TRUE(uri_equal(*t, *same));
}

TEST(Uri, Rejections) {
  EXPECT_EQ(parse_uri("sip:").why(), "empty URI");
  EXPECT_EQ(parse_uri("nocolon").why(), "URI has no scheme");
  EXPECT_EQ(parse_uri("sip:@example.com").why(), "empty URI user");
  EXPECT_EQ(parse_uri("sip:a b@example.com").why(), "bad URI user");
  EXPECT_EQ(parse_uri("sip:user@exa mple.com").why(), "bad URI host");
  EXPECT_EQ(parse_uri("sip:user@host:99999").why(), "bad URI port");
  EXPECT_EQ(parse_uri("sip:user@host:0").why(), "bad URI port");
  EXPECT_EQ(parse_uri("sip:user@[::1").why(), "unterminated IPv6 reference");
  EXPECT_EQ(parse_uri("sip:us%zzer@host").why(), "bad URI user");
  EXPECT_EQ(parse_uri("sip:user@host;a=%g1").why(), "bad URI parameter");
  EXPECT_EQ(parse_uri("sip:user@host?").why(), "bad URI headers");
  EXPECT_EQ(parse_uri("<sip:user@host>").why(), "bad URI scheme");
  EXPECT_EQ(parse_uri("http://a b").why(), "bad character in URI");
}

TEST(Uri, EqualityFollowsRfc3261Section19_1_4) {
  auto eq = [](std::string_view a, std::string_view b) { return uri_equal(*parse_uri(a), *parse_uri(b)); };
  // Examples from RFC 3261 §19.1.4.
  EXPECT_TRUE(eq("sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp"));
  EXPECT_TRUE(eq("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"));
  EXPECT_TRUE(eq("sip:carol@chicago.com;security=on", "sip:carol@chicago.com;newparam=5"));
  EXPECT_TRUE(eq("sip:alice@atlanta.com?subject=project", "sip:alice@atlanta.com?priority=urgent"));
  EXPECT_FALSE(eq("SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP"));
  EXPECT_FALSE(eq("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"));
  EXPECT_FALSE(eq("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"));
  EXPECT_FALSE(eq("sip:carol@chicago.com;security=on", "sip:carol@chicago.com;security=off"));
  EXPECT_FALSE(eq("sip:alice@atlanta.com", "sips:alice@atlanta.com"));
}

TEST(Uri, AddressOfRecord) {
  EXPECT_EQ(address_of_record(*parse_uri("sip:%61lice@Example.COM:5060;transport=tcp")), "sip:alice@example.com");
  EXPECT_EQ(address_of_record(*parse_uri("sips:bob@example.com")), "sip:bob@example.com");
  EXPECT_EQ(address_of_record(*parse_uri("tel:+123")), "");
}

}  // namespace
}  // namespace herald::sip
