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

Destination destination(std::string_view via_text, const Source& source) {
  auto via = parse_via(via_text);
  EXPECT_TRUE(via.ok()) << via.why();
  return response_destination(*via, source);
}

// RFC 3261 §18.2.2, RFC 3581 §4: where a UDP response goes.
TEST(ResponseDestination, ReceivedAndRportThenSentByPort) {
  Destination d = destination("SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bK1;received=192.0.2.9;rport=40001",
                              from("192.0.2.9", 40001));
  EXPECT_EQ(d.address.to_string(), "192.0.2.9");
  EXPECT_EQ(d.port, 40001);
  d = destination("SIP/2.0/UDP pc.example.com:5070;branch=z9hG4bK1;received=192.0.2.9", from("192.0.2.9", 3333));
  EXPECT_EQ(d.address.to_string(), "192.0.2.9");
  EXPECT_EQ(d.port, 5070);  // the sent-by port, not the source's, without rport
  d = destination("SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1", from("192.0.2.1", 3333));
  EXPECT_EQ(d.port, 5060);
}

TEST(ResponseDestination, MaddrWinsWithTheSentByPort) {
  Destination d = destination("SIP/2.0/UDP 192.0.2.1:5070;maddr=239.255.255.1;ttl=1;branch=z9hG4bK1;rport=40001",
                              from("192.0.2.1", 40001));
  EXPECT_EQ(d.address.to_string(), "239.255.255.1");
  EXPECT_EQ(d.port, 5070);
  d = destination("SIP/2.0/UDP 192.0.2.1;maddr=192.0.2.77;branch=z9hG4bK1", from("192.0.2.1", 4000));
  EXPECT_EQ(d.address.to_string(), "192.0.2.77");
  EXPECT_EQ(d.port, 5060);
  // A name in maddr is not resolved here: the received address stands in for it.
  d = destination("SIP/2.0/UDP 192.0.2.1:5070;maddr=mcast.example.com;branch=z9hG4bK1;received=192.0.2.9",
                  from("192.0.2.9", 4000));
  EXPECT_EQ(d.address.to_string(), "192.0.2.9");
  EXPECT_EQ(d.port, 5070);
}

TEST(ResponseDestination, AStreamAnswersOnItsConnection) {
  Source tcp = from("192.0.2.9", 4000);
  tcp.protocol = Protocol::kTcp;
  tcp.connection = ConnectionId{5};
  const Destination d = destination("SIP/2.0/TCP 192.0.2.1:5070;maddr=192.0.2.77;branch=z9hG4bK1", tcp);
  EXPECT_EQ(d.address.to_string(), "192.0.2.9");
  EXPECT_EQ(d.port, 4000);
  EXPECT_EQ(d.connection, ConnectionId{5});
}

}  // namespace
}  // namespace herald::sip::transport
