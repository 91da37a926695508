#include "sip/transport/resolver.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace herald::sip::transport {
namespace {

using boost::asio::ip::make_address;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr std::string_view kHosts =
    "# static table lookup for host names\n"
    "127.0.0.1\tlocalhost\n"
    "::1     localhost ip6-localhost ip6-loopback\n"
    "192.0.2.10  proxy.example.com proxy   # the outbound proxy\n"
    "2001:db8::10 proxy.example.com\n"
    "192.0.2.11\tPBX.Example.COM\t\tpbx\r\n"
    "   192.0.2.12   indented.example.com\n"
    "\n"
    "# 192.0.2.99 commented.example.com\n"
    "not-an-address garbage.example.com\n"
    "192.0.2.300 bad-octet.example.com\n"
    "192.0.2.13\n"
    "fe80::1%lo link-local.example.com\n"
    "192.0.2.10 proxy.example.com\n"
    "192.0.2.14 last.example.com";  // no final newline

Destination to(Protocol protocol, const char* ip, std::uint16_t port) {
  return {protocol, make_address(ip), port, std::nullopt};
}

// Compares what a Destination holds (it has no operator==).
MATCHER_P(IsDestination, expected, "") {
  return arg.protocol == expected.protocol && arg.address == expected.address &&
         arg.port == expected.port && arg.connection == expected.connection;
}

class ResolveTest : public ::testing::Test {
 protected:
  // Keeps the URI text alive: a Uri views into it.
  Resolution resolve_text(std::string text, std::optional<Protocol> preferred = std::nullopt) {
    texts_.push_back(std::make_unique<std::string>(std::move(text)));
    auto uri = parse_uri(*texts_.back());
    EXPECT_TRUE(uri.ok()) << *texts_.back() << ": " << uri.why();
    return resolve(*uri, hosts_, preferred);
  }

  HostsFile hosts_ = HostsFile::parse(kHosts);
  std::vector<std::unique_ptr<std::string>> texts_;
};

TEST(HostsFile, LooksUpNamesAndAliases) {
  HostsFile hosts = HostsFile::parse(kHosts);
  EXPECT_THAT(hosts.lookup("localhost"),
              ElementsAre(make_address("127.0.0.1"), make_address("::1")));
  EXPECT_THAT(hosts.lookup("ip6-loopback"), ElementsAre(make_address("::1")));
  EXPECT_THAT(hosts.lookup("proxy"), ElementsAre(make_address("192.0.2.10")));
  EXPECT_THAT(hosts.lookup("indented.example.com"), ElementsAre(make_address("192.0.2.12")));
  EXPECT_THAT(hosts.lookup("last.example.com"), ElementsAre(make_address("192.0.2.14")));
}

TEST(HostsFile, SeveralLinesKeepFileOrderWithoutDuplicates) {
  HostsFile hosts = HostsFile::parse(kHosts);
  EXPECT_THAT(hosts.lookup("proxy.example.com"),
              ElementsAre(make_address("192.0.2.10"), make_address("2001:db8::10")));
}

TEST(HostsFile, NamesAreCaseInsensitive) {
  HostsFile hosts = HostsFile::parse(kHosts);
  EXPECT_THAT(hosts.lookup("pbx.example.com"), ElementsAre(make_address("192.0.2.11")));
  EXPECT_THAT(hosts.lookup("PBX.EXAMPLE.COM"), ElementsAre(make_address("192.0.2.11")));
  EXPECT_THAT(hosts.lookup("Pbx"), ElementsAre(make_address("192.0.2.11")));
  EXPECT_THAT(hosts.lookup("LocalHost"),
              ElementsAre(make_address("127.0.0.1"), make_address("::1")));
}

TEST(HostsFile, AbsoluteNameMatches) {
  HostsFile hosts = HostsFile::parse(kHosts);
  EXPECT_THAT(hosts.lookup("proxy."), ElementsAre(make_address("192.0.2.10")));
  EXPECT_THAT(hosts.lookup("."), IsEmpty());
}

TEST(HostsFile, CommentsAndGarbageLinesAreIgnored) {
  HostsFile hosts = HostsFile::parse(kHosts);
  EXPECT_THAT(hosts.lookup("commented.example.com"), IsEmpty());
  EXPECT_THAT(hosts.lookup("garbage.example.com"), IsEmpty());
  EXPECT_THAT(hosts.lookup("not-an-address"), IsEmpty());
  EXPECT_THAT(hosts.lookup("bad-octet.example.com"), IsEmpty());
  EXPECT_THAT(hosts.lookup("link-local.example.com"), IsEmpty());  // zones are not supported
  EXPECT_THAT(hosts.lookup("#"), IsEmpty());
  EXPECT_THAT(hosts.lookup("the"), IsEmpty());
  EXPECT_THAT(hosts.lookup(""), IsEmpty());
}

TEST(HostsFile, EmptyAndCommentOnlyTexts) {
  EXPECT_TRUE(HostsFile::parse("").empty());
  EXPECT_TRUE(HostsFile::parse("# nothing\n\n   \t\n#127.0.0.1 localhost").empty());
  EXPECT_TRUE(HostsFile::parse("127.0.0.1#localhost\n").empty());
}

class HostsFileLoad : public ::testing::Test {
 protected:
  void TearDown() override { std::filesystem::remove(path_); }

  std::filesystem::path path_ = std::filesystem::temp_directory_path() /
                                ("herald_resolver_test_" + std::to_string(::getpid()) + ".hosts");
};

TEST_F(HostsFileLoad, ReadsAFile) {
  {
    std::ofstream out(path_, std::ios::binary);
    out << "10.1.2.3 registrar.test\n::1 registrar.test\n";
  }
  HostsFile hosts = HostsFile::load(path_);
  EXPECT_EQ(hosts.path(), path_);
  EXPECT_THAT(hosts.lookup("registrar.test"),
              ElementsAre(make_address("10.1.2.3"), make_address("::1")));
}

TEST_F(HostsFileLoad, MissingFileGivesAnEmptyTable) {
  HostsFile hosts = HostsFile::load(path_);
  EXPECT_TRUE(hosts.empty());
  EXPECT_EQ(hosts.path(), path_);
  EXPECT_THAT(hosts.lookup("localhost"), IsEmpty());
}

TEST_F(HostsFileLoad, DirectoryGivesAnEmptyTable) {
  EXPECT_TRUE(HostsFile::load(std::filesystem::temp_directory_path()).empty());
}

TEST_F(ResolveTest, NumericIpv4) {
  EXPECT_THAT(resolve_text("sip:alice@192.0.2.1").destinations,
              ElementsAre(IsDestination(to(Protocol::kUdp, "192.0.2.1", 5060))));
  EXPECT_THAT(resolve_text("sip:192.0.2.1:5080").destinations,
              ElementsAre(IsDestination(to(Protocol::kUdp, "192.0.2.1", 5080))));
}

TEST_F(ResolveTest, NumericIpv6) {
  EXPECT_THAT(resolve_text("sip:bob@[2001:db8::1]").destinations,
              ElementsAre(IsDestination(to(Protocol::kUdp, "2001:db8::1", 5060))));
  EXPECT_THAT(resolve_text("sip:bob@[2001:db8::1]:5070;transport=tcp").destinations,
              ElementsAre(IsDestination(to(Protocol::kTcp, "2001:db8::1", 5070))));
  EXPECT_THAT(resolve_text("sip:[::ffff:192.0.2.1]").destinations,
              ElementsAre(IsDestination(to(Protocol::kUdp, "::ffff:192.0.2.1", 5060))));
}

TEST_F(ResolveTest, TransportParameter) {
  EXPECT_THAT(resolve_text("sip:192.0.2.1;transport=udp").destinations,
              ElementsAre(IsDestination(to(Protocol::kUdp, "192.0.2.1", 5060))));
  EXPECT_THAT(resolve_text("sip:192.0.2.1;transport=tcp").destinations,
              ElementsAre(IsDestination(to(Protocol::kTcp, "192.0.2.1", 5060))));
  EXPECT_THAT(resolve_text("sip:192.0.2.1;lr;TRANSPORT=TCP").destinations,
              ElementsAre(IsDestination(to(Protocol::kTcp, "192.0.2.1", 5060))));
  EXPECT_THAT(resolve_text("sip:192.0.2.1;transport=Udp").destinations,
              ElementsAre(IsDestination(to(Protocol::kUdp, "192.0.2.1", 5060))));
}

TEST_F(ResolveTest, UnsupportedTransportsAreNamed) {
  Resolution tls = resolve_text("sip:192.0.2.1;transport=tls");
  EXPECT_THAT(tls.destinations, IsEmpty());
  EXPECT_FALSE(tls.ok());
  EXPECT_EQ(tls.error, "transport tls not supported");
  EXPECT_EQ(resolve_text("sip:192.0.2.1;transport=SCTP").error, "transport sctp not supported");
  EXPECT_EQ(resolve_text("sip:proxy;transport=ws").error, "transport ws not supported");
}

TEST_F(ResolveTest, SipsNeedsTls) {
  for (const char* text : {"sips:192.0.2.1", "sips:alice@proxy.example.com;transport=tcp"}) {
    Resolution r = resolve_text(text);
    EXPECT_THAT(r.destinations, IsEmpty()) << text;
    EXPECT_EQ(r.error, "sips needs TLS, which this server does not offer") << text;
  }
}

TEST_F(ResolveTest, OtherSchemesAreRejected) {
  Resolution r = resolve_text("tel:+1-201-555-0123");
  EXPECT_THAT(r.destinations, IsEmpty());
  EXPECT_EQ(r.error, "not a sip URI");
}

TEST_F(ResolveTest, PreferredProtocolAppliesOnlyWithoutTransportParameter) {
  EXPECT_THAT(resolve_text("sip:192.0.2.1", Protocol::kTcp).destinations,
              ElementsAre(IsDestination(to(Protocol::kTcp, "192.0.2.1", 5060))));
  EXPECT_THAT(resolve_text("sip:192.0.2.1;transport=udp", Protocol::kTcp).destinations,
              ElementsAre(IsDestination(to(Protocol::kUdp, "192.0.2.1", 5060))));
  EXPECT_EQ(resolve_text("sip:192.0.2.1;transport=tls", Protocol::kTcp).error,
            "transport tls not supported");
}

TEST_F(ResolveTest, MaddrOverridesHost) {
  EXPECT_THAT(resolve_text("sip:alice@unknown.example.org;maddr=192.0.2.7").destinations,
              ElementsAre(IsDestination(to(Protocol::kUdp, "192.0.2.7", 5060))));
  EXPECT_THAT(
      resolve_text("sip:alice@192.0.2.1:5090;maddr=[2001:db8::7];transport=tcp").destinations,
      ElementsAre(IsDestination(to(Protocol::kTcp, "2001:db8::7", 5090))));
  EXPECT_THAT(resolve_text("sip:alice@192.0.2.1;maddr=pbx").destinations,
              ElementsAre(IsDestination(to(Protocol::kUdp, "192.0.2.11", 5060))));
  EXPECT_EQ(resolve_text("sip:alice@192.0.2.1;maddr=[fe80::1%25eth0]").error,
            "cannot resolve fe80::1%25eth0: not an address and not in /etc/hosts");
  EXPECT_EQ(resolve_text("sip:alice@192.0.2.1;maddr=nowhere.example.org").error,
            "cannot resolve nowhere.example.org: not an address and not in /etc/hosts");
}

TEST_F(ResolveTest, NamesFromTheHostsFile) {
  EXPECT_THAT(resolve_text("sip:carol@Proxy.Example.com:5062;transport=tcp").destinations,
              ElementsAre(IsDestination(to(Protocol::kTcp, "192.0.2.10", 5062)),
                          IsDestination(to(Protocol::kTcp, "2001:db8::10", 5062))));
  EXPECT_THAT(resolve_text("sip:localhost").destinations,
              ElementsAre(IsDestination(to(Protocol::kUdp, "127.0.0.1", 5060)),
                          IsDestination(to(Protocol::kUdp, "::1", 5060))));
}

TEST_F(ResolveTest, UnknownNameIsAnError) {
  Resolution r = resolve_text("sip:dave@unknown.example.org");
  EXPECT_THAT(r.destinations, IsEmpty());
  EXPECT_EQ(r.error, "cannot resolve unknown.example.org: not an address and not in /etc/hosts");
}

TEST_F(ResolveTest, LocalhostOnlyThroughTheFile) {
  hosts_ = HostsFile::parse("192.0.2.1 other\n");
  EXPECT_EQ(resolve_text("sip:localhost").error,
            "cannot resolve localhost: not an address and not in /etc/hosts");
}

TEST_F(ResolveTest, ErrorNamesTheFileItWasLoadedFrom) {
  hosts_ = HostsFile::load("/nonexistent/herald/hosts");
  EXPECT_EQ(resolve_text("sip:proxy").error,
            "cannot resolve proxy: not an address and not in /nonexistent/herald/hosts");
  EXPECT_THAT(resolve_text("sip:192.0.2.1").destinations,
              ElementsAre(IsDestination(to(Protocol::kUdp, "192.0.2.1", 5060))));
}

}  // namespace
}  // namespace herald::sip::transport
