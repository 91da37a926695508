#pragma once

#include <string>
#include <string_view>

#include "services/auth/hmac.h"

namespace herald::services::proxy {

// The token Herald writes into its own Record-Route (`<sip:HOST:PORT;lr;dlg=TOKEN>`), so that a
// later request on the dialog's route set proves, without any state, that the dialog was set up
// through Herald (RFC 3261 §16.4, §16.12: after removing the Route values that name it, a proxy
// judges a request as if it had arrived without them). Herald forwards a request to a foreign
// target only for an authenticated local user or inside such a dialog; a Route naming Herald
// without a valid token proves nothing.
//
// TOKEN = 24 hex digits, the first 12 bytes of HMAC-SHA256(secret, "dlg" 0 Call-ID 0 tag), where
// tag is the From tag of the request that created the dialog. In the dialog's later requests that
// tag is the From tag (the creator's side) or the To tag (the other side).
//
// The secret is the server's (the data directory's key file): tokens survive restarts, and every
// shard and node sharing the key accepts them. Thread-safe (const, Hmac is).
class DialogTokens {
 public:
  static constexpr std::string_view kParam = "dlg";

  explicit DialogTokens(std::string_view secret) : hmac_(secret) {}

  std::string make(std::string_view call_id, std::string_view creator_tag) const;
  // Whether `token` was made for this Call-ID and `from_tag` or `to_tag`; compared in constant
  // time.
  bool check(std::string_view token, std::string_view call_id, std::string_view from_tag,
             std::string_view to_tag) const;

 private:
  auth::Hmac hmac_;
};

}  // namespace herald::services::proxy
