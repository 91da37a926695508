// sip::dialog_request: the one way Herald builds a request in a dialog (RFC 3261 §12.2.1.1).

#include "sip/msg/dialog_request.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace herald::sip {
namespace {

DialogView dialog(const std::vector<std::string>& routes) {
  DialogView d;
  d.call_id = "c1@example.com";
  d.local_uri = "sip:bob@example.com";
  d.local_tag = "b1";
  d.remote_uri = "sip:alice@example.com";
  d.remote_tag = "a1";
  d.remote_target = "sip:alice@192.0.2.20:5070";
  d.route_set = &routes;
  return d;
}

TEST(DialogRequest, LooseRoutesGoInRouteAndTheRemoteTargetIsTheRequestUri) {
  const std::vector<std::string> routes = {"sip:p1.example.com;lr", "sip:p2.example.com;lr"};
  Message m = dialog_request("MESSAGE", dialog(routes), 4294967295u);
  m.prepend(HeaderId::kVia, "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-1");
  m.append(HeaderId::kContentLength, "0");
  EXPECT_EQ(serialize(m),
            "MESSAGE sip:alice@192.0.2.20:5070 SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-1\r\n"
            "Route: <sip:p1.example.com;lr>\r\n"
            "Route: <sip:p2.example.com;lr>\r\n"
            "Max-Forwards: 70\r\n"
            "From: <sip:bob@example.com>;tag=b1\r\n"
            "To: <sip:alice@example.com>;tag=a1\r\n"
            "Call-ID: c1@example.com\r\n"
            "CSeq: 4294967295 MESSAGE\r\n"
            "Content-Length: 0\r\n"
            "\r\n");
  EXPECT_TRUE(m.request_uri().ok());
  EXPECT_EQ(m.method(), Method::kMessage);
}

TEST(DialogRequest, AStrictFirstRouteBecomesTheRequestUriAndTheRemoteTargetTheLastRoute) {
  const std::vector<std::string> routes = {"sip:strict.example.com", "sip:p2.example.com;lr"};
  const Message m = dialog_request("NOTIFY", dialog(routes), 2);
  EXPECT_EQ(m.request_uri_text(), "sip:strict.example.com");
  auto all = m.get_all<hdr::Route>();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ(all->at(0).uri.host, "p2.example.com");
  EXPECT_EQ(all->at(1).uri.host, "192.0.2.20");
}

TEST(DialogRequest, WithoutARemoteTagOrRoutesToHasNoTagAndThereIsNoRoute) {
  DialogView d = dialog({});
  d.remote_tag = {};
  d.route_set = nullptr;
  const Message m = dialog_request("SUBSCRIBE", d, 1);
  EXPECT_EQ(m.find(HeaderId::kTo)->value, "<sip:alice@example.com>");
  EXPECT_FALSE(m.has(HeaderId::kRoute));
  EXPECT_EQ(m.find(HeaderId::kCSeq)->value, "1 SUBSCRIBE");
}

}  // namespace
}  // namespace herald::sip
