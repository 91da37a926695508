#pragma once

#include <optional>
#include <string>

#include "sip/msg/message.h"

namespace herald::sip::txn {

// Transaction matching keys (RFC 3261 §17.1.3, §17.2.3), as opaque strings for hash maps.
// Each key starts with a tag naming its kind, so keys of different kinds never collide.
// All functions return nullopt for a message whose needed headers are absent or malformed:
// such a message cannot be matched and is dropped by the caller.

// The key under which a server transaction is found for `request` (§17.2.3):
//  - top Via branch with the magic cookie (and more than the cookie): branch, sent-by
//    (host lower-cased, port as written) and method, with ACK counted as INVITE;
//  - otherwise (RFC 2543): Request-URI, To tag, From tag, Call-ID, CSeq number, the whole
//    top Via value and method. An ACK gets ack_key_2543() instead, because its To tag is the
//    one of our response, which the INVITE did not carry.
std::optional<std::string> server_key(const Message& request);

// For an RFC 2543 INVITE: the key without To tag (method INVITE) under which its ACK and
// its CANCEL find it. nullopt for a request with an RFC 3261 branch or unusable headers.
std::optional<std::string> ack_key_2543(const Message& request);

// The key of the INVITE server transaction a CANCEL (or ACK) refers to (§9.2): server_key()
// with method INVITE, or ack_key_2543() without an RFC 3261 branch.
std::optional<std::string> invite_key_for(const Message& request);

// The client transaction key of a request or of a response to it (§17.1.3): top Via branch
// and CSeq method.
std::optional<std::string> client_key(const Message& message);

}  // namespace herald::sip::txn
