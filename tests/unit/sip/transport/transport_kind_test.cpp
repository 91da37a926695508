// The table of transport kinds: what code above the transport asks instead of switching on
// the kind.

#include <gtest/gtest.h>

#include "sip/transport/transport_user.h"

namespace herald::sip::transport {
namespace {

TEST(TransportKind, UdpIsUnreliableAndMessageFramedTcpIsAReliableStreamWithConnections) {
  const TransportKind& udp = kind_of(Protocol::kUdp);
  EXPECT_EQ(udp.via, "UDP");
  EXPECT_EQ(udp.param, "udp");
  EXPECT_FALSE(udp.reliable);
  EXPECT_FALSE(udp.stream);
  EXPECT_TRUE(udp.message_framed);
  EXPECT_FALSE(udp.connection);
  EXPECT_FALSE(udp.secure);
  const TransportKind& tcp = kind_of(Protocol::kTcp);
  EXPECT_EQ(tcp.via, "TCP");
  EXPECT_EQ(tcp.param, "tcp");
  EXPECT_TRUE(tcp.reliable);
  EXPECT_TRUE(tcp.stream);
  EXPECT_FALSE(tcp.message_framed);
  EXPECT_TRUE(tcp.connection);
  EXPECT_FALSE(tcp.secure);
}

TEST(TransportKind, EveryRowIsTheKindItsIndexNames) {
  for (const TransportKind& k : transport_kinds()) EXPECT_EQ(&kind_of(k.protocol), &k);
  EXPECT_EQ(transport_kinds().front().protocol, Protocol::kUdp);  // the default of a sip: URI
}

TEST(TransportKind, ViaTokensAndUriParametersAreReadWithoutRegardToCase) {
  EXPECT_EQ(protocol_of_via("UDP"), Protocol::kUdp);
  EXPECT_EQ(protocol_of_via("tcp"), Protocol::kTcp);
  EXPECT_EQ(protocol_of_via("SCTP"), std::nullopt);  // a kind this build does not have
  EXPECT_EQ(protocol_of_via(""), std::nullopt);
  EXPECT_EQ(protocol_of_param("TCP"), Protocol::kTcp);
  EXPECT_EQ(protocol_of_param("udp"), Protocol::kUdp);
  EXPECT_EQ(protocol_of_param("tls"), std::nullopt);
  EXPECT_EQ(to_string(Protocol::kTcp), "TCP");
}

TEST(TransportKind, OnlyAKindOtherThanTheDefaultIsNamedInAUri) {
  EXPECT_EQ(uri_transport_param(Protocol::kUdp), "");
  EXPECT_EQ(uri_transport_param(Protocol::kTcp), ";transport=tcp");
}

}  // namespace
}  // namespace herald::sip::transport
