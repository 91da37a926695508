#pragma once

#include <boost/asio/ip/address.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sip/msg/message.h"
#include "sip/transport/transport_user.h"
#include "sip/txn/transaction_layer.h"

namespace herald::sip {

// Headers a response adds to what make_response() copies from the request.
using ExtraHeaders = std::vector<std::pair<HeaderId, std::string>>;

// make_response() with the To tag `to_tag` (none when empty), then the headers in `extra`
// before a Content-Length of 0.
inline Message response_for(const Message& request, int code, std::string_view reason, const ExtraHeaders& extra,
                            std::string_view to_tag) {
  Message response = make_response(request, code, reason, to_tag);
  response.remove(HeaderId::kContentLength);
  for (const auto& [header, value] : extra) response.append(header, value);
  response.append(HeaderId::kContentLength, "0");
  return response;
}

// Where the answer to one request goes: through its server transaction, or, for a request
// answered without one (a stateless UAS, RFC 3261 §8.2.7: OPTIONS to the server, a REGISTER
// over UDP), straight to where the request came from (§18.2.2), with a To tag that is the same
// for every copy of the request. A Reply does not own the source or the tag it names.
class Reply {
 public:
  // Implicit: a server transaction id is the usual Reply.
  Reply(txn::ServerTransactionId id) : id_(id) {}
  static Reply stateless(const transport::Source& source, std::string_view to_tag) {
    Reply r(0);
    r.source_ = &source;
    r.to_tag_ = to_tag;
    return r;
  }
  txn::ServerTransactionId id() const { return id_; }
  // The request's source when it is answered without a transaction; null otherwise.
  const transport::Source* stateless_source() const { return source_; }
  // The To tag of a stateless answer (§8.2.7: made the same way for every copy); empty otherwise.
  std::string_view to_tag() const { return to_tag_; }

 private:
  txn::ServerTransactionId id_ = 0;
  const transport::Source* source_ = nullptr;
  std::string_view to_tag_;
};

// What a service sees of the SIP stack it runs on (sip::Stack): how to answer a request, how
// Herald names itself, where it listens, whether a connection is open, and the sends that need
// no transaction. Client transactions go through the transaction layer itself.
class Network {
 public:
  virtual ~Network() = default;

  // The one way a request is answered: make_response() with `code` and `reason`, the To tag
  // `to_tag` (else the Reply's, else a fresh one, for codes above 100), the headers in `extra`,
  // then respond_with().
  virtual void respond(const Reply& to, const Message& request, int code, std::string_view reason,
                       const ExtraHeaders& extra = {}, std::string_view to_tag = {}) = 0;
  // Sends a response built elsewhere: adds the stack's Server (or User-Agent) header before
  // Content-Length, counts it and logs it with the Call-ID (info for failures; debug for
  // challenges, 1xx and 2xx, and whatever is `routine`).
  virtual void respond_with(const Reply& to, const Message& request, Message response, bool routine = false) = 0;

  // "host:port" Herald puts in Via, Contact and Record-Route for `protocol` ("[::1]:5060" for
  // IPv6); empty when it does not listen on that protocol.
  virtual std::string sent_by(transport::Protocol protocol) const = 0;
  // sent_by(protocol), or the UDP one when Herald does not listen on `protocol`.
  std::string sent_by_or_udp(transport::Protocol protocol) const {
    std::string s = sent_by(protocol);
    return s.empty() ? sent_by(transport::Protocol::kUdp) : s;
  }
  // The top Via of a request Herald sends over `protocol` in the transaction `branch`:
  // "SIP/2.0/UDP host:port;branch=…;rport" (RFC 3261 §18.1.1, RFC 3581 §3).
  std::string via(transport::Protocol protocol, std::string_view branch) const {
    std::string v = "SIP/2.0/";
    v.append(transport::kind_of(protocol).via).append(" ").append(sent_by_or_udp(protocol));
    v.append(";branch=").append(branch).append(";rport");
    return v;
  }
  // Whether address:port is one of Herald's listening sockets (any protocol).
  virtual bool listens_on(const boost::asio::ip::address& address, std::uint16_t port) const = 0;
  virtual bool listens_on_port(std::uint16_t port) const = 0;
  // Whether a connection to address:port is open (it can carry a request at once).
  virtual bool connection_open(const boost::asio::ip::address& address, std::uint16_t port) const = 0;
  // Sends a request without a transaction (an ACK, a stateless forward).
  virtual void send_stateless(const Message& request, const transport::Destination& to) = 0;
  // Sends a response where its top Via says (RFC 3261 §18.2.2, RFC 3581).
  virtual void send_response_by_via(const Message& response) = 0;
};

}  // namespace herald::sip
