#pragma once

// What the service tests put where the shard's stack is: everything sent is recorded (the
// integration tests drive the real sockets). Herald is 192.0.2.100:5060. Answers go through
// `layer` (set it) as sip::Stack sends them, with a To tag "herald-N" when none is given.

#include <boost/asio/ip/address.hpp>
#include <string>
#include <vector>

#include "sip/stack/network.h"
#include "sip/txn/transaction_layer.h"

namespace herald::test {

struct SentRequest {
  sip::Message message;
  sip::transport::Destination to;
};

class RecordingNetwork : public sip::txn::MessageSender, public sip::Network {
 public:
  void respond(const sip::Reply& to, const sip::Message& request, int code, std::string_view reason,
               const sip::ExtraHeaders& extra = {}, std::string_view to_tag = {}) override {
    std::string tag;
    if (code > 100) {
      tag = !to_tag.empty()          ? std::string(to_tag)
            : !to.to_tag().empty() ? std::string(to.to_tag())
                                   : "herald-" + std::to_string(++tags);
    }
    respond_with(to, request, sip::response_for(request, code, reason, extra, tag));
  }
  void respond_with(const sip::Reply& to, const sip::Message& request, sip::Message response,
                    bool /*routine*/ = false) override {
    static_cast<void>(request);
    if (const sip::transport::Source* source = to.stateless_source()) {
      layer->send_stateless(response, *source);
      return;
    }
    layer->respond(to.id(), response);
  }
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
  sip::txn::TransactionLayer* layer = nullptr;
  int tags = 0;
};

}  // namespace herald::test
