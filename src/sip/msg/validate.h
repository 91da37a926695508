#pragma once

#include <string_view>

#include "sip/msg/message.h"

namespace herald::sip {

// What to do with a received request that may be malformed.
struct RequestCheck {
  int status_code = 0;      // 0: well formed; otherwise the response to send (400, 505)
  std::string_view reason;  // reason phrase naming the fault (static storage)
  bool ok() const { return status_code == 0; }
};

// Syntax checks every element does before handing a request on (RFC 3261 §8.2, §16.3,
// RFC 4475 §3.1.2): structural defects, SIP version, the mandatory headers (Via, From, To,
// Call-ID, CSeq) present once and well formed, Max-Forwards / Contact / Route /
// Record-Route / Content-Type / Require well formed when present, the CSeq method equal to
// the request method, and a Request-URI that parses without URI headers.
// Policy checks (416, 420, 483 …) are the caller's: they depend on what it supports.
RequestCheck check_request(const Message& request);

// A received response is usable when its top Via, From, To, Call-ID and CSeq are present
// and well formed; anything else is dropped (RFC 3261 §18.1.2, RFC 4475 §3.1.2.4).
bool response_usable(const Message& response);

}  // namespace herald::sip
