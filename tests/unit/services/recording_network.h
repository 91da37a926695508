#pragma once

// What the proxy and IM tests put where the shard's sockets are: everything sent is recorded
// (the integration tests drive the real sockets). Herald is 192.0.2.100:5060.

#include <boost/asio/ip/address.hpp>
#include <string>
#include <vector>

#include "services/proxy/proxy.h"
#include "sip/txn/transaction_layer.h"

namespace herald::test {

struct SentRequest {
  sip::Message message;
  sip::transport::Destination to;
};

class RecordingNetwork : public sip::txn::MessageSender, public services::proxy::Network {
 public:
  void send_response(const sip::Message& response, const sip::transport::Source&, sip::txn::SendDone done) override {
    responses.push_back(response);
    if (done) done({});
  }
  void send_request(const sip::Message& request, const sip::transport::Destination& to,
                    sip::txn::SendDone done) override {
    requests.push_back({request, to});
    if (done) done({});
  }
  std::string sent_by(sip::transport::Protocol) const override { return "192.0.2.100:5060"; }
  bool listens_on(const boost::asio::ip::address& address, std::uint16_t port) const override {
    return address.to_string() == "192.0.2.100" && port == 5060;
  }
  bool listens_on_port(std::uint16_t port) const override { return port == 5060; }
  // One TCP connection, to 192.0.2.20:5070, when open_connection is set.
  bool connection_open(const boost::asio::ip::address& address, std::uint16_t port) const override {
    return open_connection && address.to_string() == "192.0.2.20" && port == 5070;
  }
  void send_stateless(const sip::Message& request, const sip::transport::Destination& to) override {
    stateless.push_back({request, to});
  }
  void send_response_by_via(const sip::Message& response) override { stateless_responses.push_back(response); }

  std::vector<sip::Message> responses;
  std::vector<SentRequest> requests;
  std::vector<SentRequest> stateless;
  std::vector<sip::Message> stateless_responses;
  bool open_connection = false;
};

}  // namespace herald::test
