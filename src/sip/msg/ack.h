#pragma once

#include "sip/msg/message.h"

namespace herald::sip {

// The ACK a client INVITE transaction sends for a 3xx-6xx response (RFC 3261 §17.1.1.3):
// Request-URI, top Via (only), From, Call-ID and Route headers of `invite`; To of `response`
// (with the tag the UAS added); CSeq with the INVITE's number and method ACK; Max-Forwards: 70
// and Content-Length: 0. Headers missing from the inputs are left out (never throws); the
// caller sends only ACKs for INVITEs it built itself. The result owns copies of the text it
// uses, so it outlives both inputs.
Message make_ack(const Message& invite, const Message& response);

}  // namespace herald::sip
