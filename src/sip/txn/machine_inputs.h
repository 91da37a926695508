#pragma once

#include <cstdint>
#include <optional>

namespace herald::sip::txn {

// The only thing the machines need to know about a response: its status class.
enum class ResponseClass : std::uint8_t {
  kProvisional,  // 1xx
  kSuccess,      // 2xx
  kFinal,        // 3xx-6xx ("non-2xx final")
};

// Classifies a status code; nullopt outside 100-699 (such a response is malformed and
// never reaches a machine).
constexpr std::optional<ResponseClass> classify_status(int status_code) {
  if (status_code >= 100 && status_code <= 199) return ResponseClass::kProvisional;
  if (status_code >= 200 && status_code <= 299) return ResponseClass::kSuccess;
  if (status_code >= 300 && status_code <= 699) return ResponseClass::kFinal;
  return std::nullopt;
}

// Whether the transport the transaction's messages travel on is reliable (TCP, TLS, SCTP,
// WebSocket). Reliable transports get no retransmission timers and zero-length waits.
enum class Reliability : std::uint8_t { kUnreliable, kReliable };

// How INVITE transactions treat a 2xx.
//  kAcceptedState (RFC 6026, the default): the transaction moves to "Accepted" and lives on
//    for 64*T1 (Timer L on the server, M on the client), so that INVITE retransmissions are
//    absorbed instead of looking like new requests, ACKs for the 2xx are matched and passed
//    to the TU, and 2xx retransmissions are passed to the TU (client) or sent (server).
//  kTerminate (RFC 3261 as written, Figures 5 and 7): a 2xx terminates the transaction at
//    once; the TU / core retransmits 2xx and absorbs what arrives afterwards.
enum class SuccessHandling : std::uint8_t { kAcceptedState, kTerminate };

}  // namespace herald::sip::txn
