#pragma once

// The one way Herald builds a request in a dialog (or one that starts a dialog, with no remote
// tag): the NOTIFYs the notifier sends, and every request of the client library. The proxy
// edits the request it forwards instead; nothing formats a request as text and parses it back.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sip/msg/message.h"

namespace herald::sip {

// What a request in a dialog is built from (RFC 3261 §12.2.1.1). Views: the caller's strings
// must outlive the call.
struct DialogView {
  std::string_view call_id;
  std::string_view local_uri;   // From
  std::string_view local_tag;
  std::string_view remote_uri;  // To
  std::string_view remote_tag;  // empty outside a dialog
  std::string_view remote_target;
  const std::vector<std::string>* route_set = nullptr;  // null or empty: none
};

// `method` in the dialog: the Request-URI is the remote target and Route the route set, or,
// when the first route is a strict router (no ;lr), that route is the Request-URI and the
// remote target goes last in Route; then Max-Forwards 70, From with the local tag, To (with the
// remote tag when there is one), Call-ID and CSeq `cseq`. No Via (the sender adds it) and no
// Content-Length (the caller adds its headers, then Message::set_body or Content-Length: 0).
Message dialog_request(std::string_view method, const DialogView& dialog, std::uint32_t cseq);

}  // namespace herald::sip
