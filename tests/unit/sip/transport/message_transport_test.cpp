#include "sip/transport/message_transport.h"

#include <gtest/gtest.h>

#include <boost/asio/ip/address.hpp>

namespace herald::sip::transport {
namespace {

Source from(const char* address, std::uint16_t port) {
  Source s;
  s.protocol = Protocol::kUdp;
  s.remote_address = boost::asio::ip::make_address(address);
  s.remote_port = port;
  return s;
}

std::string stamp(std::string_view via_text, const Source& source) {
  auto via = parse_via(via_text);
  EXPECT_TRUE(via.ok()) << via.why();
  return stamped_via(*via, via_text, source);
}

TEST(StampedVia, NothingWhenSentByIsTheSourceAndNoRport) {
  EXPECT_EQ(stamp("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1", from("192.0.2.1", 5060)), "");
}

TEST(StampedVia, ReceivedWhenSentByDiffers) {
  // RFC 3261 §18.2.1: a host name, or another address, gets received=.
  EXPECT_EQ(stamp("SIP/2.0/UDP pc33.example.com;branch=z9hG4bK1", from("192.0.2.4", 5060)),
            "SIP/2.0/UDP pc33.example.com;branch=z9hG4bK1;received=192.0.2.4");
}

TEST(StampedVia, RportFilledAndReceivedAlwaysAdded) {
  // RFC 3581 §4: rport without value gets the source port, and received is added even when
  // the sent-by address matches.
  EXPECT_EQ(stamp("SIP/2.0/UDP 192.0.2.1:5060;rport;branch=z9hG4bK1", from("192.0.2.1", 40001)),
            "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1;received=192.0.2.1;rport=40001");
}

TEST(StampedVia, ReplacesAReceivedThePeerWrote) {
  EXPECT_EQ(stamp("SIP/2.0/UDP h;received=10.0.0.1;branch=z9hG4bK1", from("192.0.2.9", 5060)),
            "SIP/2.0/UDP h;branch=z9hG4bK1;received=192.0.2.9");
}

TEST(StampedVia, Ipv6Source) {
  EXPECT_EQ(stamp("SIP/2.0/TCP [2001:db8::1]:5060;rport;branch=z9hG4bK1", from("2001:db8::2", 50000)),
            "SIP/2.0/TCP [2001:db8::1]:5060;branch=z9hG4bK1;received=2001:db8::2;rport=50000");
}

}  // namespace
}  // namespace herald::sip::transport
