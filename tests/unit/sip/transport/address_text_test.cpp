#include "sip/transport/address_text.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/asio/ip/address.hpp>

namespace herald::sip::transport {
namespace {

using boost::asio::ip::make_address;

TEST(AddressText, WritesIpv4AsInetNtopDoes) {
  for (const char* text : {"0.0.0.0", "255.255.255.255", "192.0.2.1", "10.0.0.10", "127.0.0.1", "100.20.3.0"}) {
    EXPECT_EQ(address_text(make_address(text)), text);
    EXPECT_EQ(address_text(make_address(text)), make_address(text).to_string());
  }
}

TEST(AddressText, WritesIpv6WithoutBrackets) {
  EXPECT_EQ(address_text(make_address("::1")), "::1");
  EXPECT_EQ(address_text(make_address("2001:DB8:0:0:0:0:0:1")), "2001:db8::1");
  EXPECT_EQ(address_text(make_address("::ffff:192.0.2.1")), "::ffff:192.0.2.1");
}

TEST(AddressText, AppendsAndFormatsInLogLines) {
  std::string out = "received=";
  append_address(out, make_address("192.0.2.77"));
  EXPECT_EQ(out, "received=192.0.2.77");
  EXPECT_EQ(fmt::format("{}:{}", make_address("198.51.100.4"), 5060), "198.51.100.4:5060");
  EXPECT_EQ(fmt::format("[{}]", make_address("fe80::1")), "[fe80::1]");
}

TEST(AddressText, WritesEndpointsWithIpv6InBrackets) {
  std::string out;
  append_endpoint(out, make_address("192.0.2.1"), 5060);
  EXPECT_EQ(out, "192.0.2.1:5060");
  out.clear();
  append_endpoint(out, make_address("2001:db8::1"), 65535);
  EXPECT_EQ(out, "[2001:db8::1]:65535");
  out.clear();
  append_endpoint(out, make_address("::1"), 0);
  EXPECT_EQ(out, "[::1]:0");
}

}  // namespace
}  // namespace herald::sip::transport
