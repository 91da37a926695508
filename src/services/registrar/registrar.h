#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

#include "services/registrar/location_service.h"
#include "sip/msg/message.h"
#include "sip/transport/transport_user.h"

namespace herald::services::registrar {

struct RegistrarConfig {
  std::uint32_t default_expires = 3600;  // when neither the Contact nor the request says
  std::uint32_t min_expires = 60;        // below: 423 Interval Too Brief with Min-Expires
  std::uint32_t max_expires = 86400;     // above: the 200 clamps to it
  int unknown_user_status = 404;         // 404 or 403 for an AOR with no account
  std::vector<std::string> domains;      // served domains (lower case)
  // Seconds a REGISTER accepted without a transaction is recognised when a copy of it comes
  // again (64 x T1: the span a transaction would have absorbed retransmissions, Timer J).
  std::int64_t retransmission_window = 32;
  // At most this many such requests are remembered; the oldest make room.
  std::size_t max_remembered = 1'000'000;
};

// How a REGISTER reaches the registrar.
enum class Delivery {
  kTransaction,  // in a server transaction, which absorbs its retransmissions
  kStateless,    // answered without one (RFC 3261 §8.2.7): retransmissions reach the registrar
};

// RFC 3261 §10.3 (with RFC 3327 Path): processes one REGISTER and returns the response to
// send. The caller has already authenticated the request when authentication is on, and
// passes the identity it proved (the AOR of the credentials); without authentication it
// passes nullopt.
//
// A REGISTER delivered statelessly is answered as a stateful registrar would: the requests
// it accepted are remembered (by their transaction key, §17.2.3, Call-ID, CSeq and To) for
// the retransmission window, and a retransmission of one is answered 200 with the bindings
// as they are now, changing nothing, where judging it again would find its CSeq no longer
// higher (500).
//
// Threading: one instance per shard, on its thread.
class Registrar {
 public:
  using UserExists = std::function<bool(std::string_view aor)>;

  Registrar(RegistrarConfig config, LocationService& location, UserExists user_exists);

  sip::Message handle(const sip::Message& request, const sip::transport::Source& source,
                      const std::optional<std::string>& identity, Delivery delivery = Delivery::kTransaction);
  // For a copy of a stateless REGISTER accepted within the window: its answer, 200 with the
  // bindings as they are now (nothing changes); nullopt for any other request. A server
  // asks before it authenticates the copy, whose nonce count the original used up.
  std::optional<sip::Message> answer_copy(const sip::Message& request);
  // Stateless REGISTERs accepted within the retransmission window.
  std::size_t remembered() const { return remembered_.size(); }

  bool serves_domain(std::string_view host) const;
  const RegistrarConfig& config() const { return config_; }

 private:
  // Judges a REGISTER (§10.3); `remember_as` (may be null): the key it is remembered by once
  // accepted.
  sip::Message judge(const sip::Message& request, const sip::transport::Source& source,
                     const std::optional<std::string>& identity, const std::string* remember_as);
  sip::Message reply(const sip::Message& request, int code, std::string_view reason);
  sip::Message out_of_order(const sip::Message& request);
  sip::Message bindings_reply(const sip::Message& request, const std::string& aor, bool with_path);
  // What a copy of `request` has in common with it: its transaction key, Call-ID, CSeq, To.
  static std::optional<std::string> copy_key(const sip::Message& request);
  // Remembers an accepted stateless REGISTER (its key) until the window has passed.
  void remember(std::string key, std::int64_t now);
  void forget_expired(std::int64_t now);

  RegistrarConfig config_;
  LocationService& location_;
  UserExists user_exists_;
  std::mt19937_64 random_;
  std::uint64_t tag_salt_;                        // keeps derived To tags unguessable
  const std::string* stateless_key_ = nullptr;  // the copy key of the request being answered statelessly
  struct Remembered {
    std::int64_t until;  // unix seconds
    std::string key;
  };
  std::deque<Remembered> remembered_order_;  // oldest first
  std::unordered_set<std::string> remembered_;
};

// "Sat, 13 Nov 2010 23:29:00 GMT" for a unix time (RFC 3261 §20.17).
std::string rfc1123_date(std::int64_t unix_seconds);

}  // namespace herald::services::registrar
