#pragma once

#include <array>
#include <boost/unordered/unordered_flat_set.hpp>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <string_view>
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

// RFC 3261 §10.3 (with RFC 3327 Path): processes one REGISTER and returns the response to
// send. The caller has already authenticated the request when authentication is on, and
// passes the identity it proved (the AOR of the credentials); without authentication it
// passes nullopt.
//
// A REGISTER answered without a transaction (RFC 3261 §8.2.7) is answered as a stateful
// registrar would answer it: the caller computes its copy_key(), asks answer_copy() first,
// and passes the key to handle(). The requests accepted that way are remembered for the
// retransmission window, and a copy of one is answered 200 with the bindings as they are
// now, changing nothing, where judging it again would find its CSeq no longer higher (500).
//
// What a copy shares with its original (its transaction key, §17.2.3: branch, sent-by,
// method; its Call-ID, CSeq and To) is remembered as a 128-bit hash of that text, keyed with
// a secret drawn when the registrar is made (XXH3-128): 16 bytes a REGISTER for the window
// instead of the text. Two different texts are taken for copies with a chance of about
// n^2 / 2^129 for n remembered, and a peer who does not know the secret cannot aim at one.
//
// Threading: one instance per shard, on its thread.
class Registrar {
 public:
  using UserExists = std::function<bool(std::string_view aor)>;

  Registrar(RegistrarConfig config, LocationService& location, UserExists user_exists);

  // A REGISTER's copy key: equal for a request and its copies (see above).
  struct CopyKey {
    std::uint64_t low = 0;
    std::uint64_t high = 0;
    friend bool operator==(const CopyKey&, const CopyKey&) = default;
  };

  // `stateless_key`: the request's copy_key() when it is answered without a transaction
  // (remembered once accepted; it also derives the To tag), null in a transaction.
  sip::Message handle(const sip::Message& request, const sip::transport::Source& source,
                      const std::optional<std::string>& identity, const CopyKey* stateless_key = nullptr);
  // What a copy of `request` has in common with it: its transaction key (§17.2.3: branch,
  // sent-by, method), Call-ID, CSeq and To, hashed. nullopt when it cannot be keyed.
  std::optional<CopyKey> copy_key(const sip::Message& request) const;
  // The same, from the request's server_key() computed already (the transaction layer's).
  std::optional<CopyKey> copy_key(const sip::Message& request, std::string_view server_key) const;
  // For a copy (same copy_key()) of a stateless REGISTER accepted within the window: its
  // answer, 200 with the bindings as they are now (nothing changes); nullopt for any other
  // request. A server asks before it authenticates the copy, whose nonce count the original
  // used up.
  std::optional<sip::Message> answer_copy(const sip::Message& request, const CopyKey& key);
  // Stateless REGISTERs accepted within the retransmission window.
  std::size_t remembered() const { return remembered_order_.size(); }

  bool serves_domain(std::string_view host) const;
  const RegistrarConfig& config() const { return config_; }

 private:
  // Judges a REGISTER (§10.3); accepted while stateless_key_ is set, it is remembered by it.
  sip::Message judge(const sip::Message& request, const sip::transport::Source& source,
                     const std::optional<std::string>& identity);
  sip::Message reply(const sip::Message& request, int code, std::string_view reason);
  sip::Message out_of_order(const sip::Message& request);
  sip::Message bindings_reply(const sip::Message& request, const std::string& aor, bool with_path);
  // Remembers an accepted stateless REGISTER (its key) until the window has passed.
  void remember(const CopyKey& key, std::int64_t now);
  void forget_expired(std::int64_t now);

  RegistrarConfig config_;
  LocationService& location_;
  UserExists user_exists_;
  std::mt19937_64 random_;
  std::uint64_t tag_salt_;                  // keeps derived To tags unguessable
  std::array<unsigned char, 192> secret_;  // keys copy_key()'s hash
  mutable std::string copy_text_;          // copy_key()'s text, its capacity reused
  const CopyKey* stateless_key_ = nullptr;  // the copy key of the request being answered statelessly
  struct Remembered {
    std::int64_t until;  // unix seconds
    CopyKey key;
  };
  // Already uniform: the table's slot is taken from the hash itself.
  struct CopyKeyHash {
    using is_avalanching = void;
    std::size_t operator()(const CopyKey& key) const noexcept { return key.low; }
  };
  using KeySet = boost::unordered_flat_set<CopyKey, CopyKeyHash>;
  // The table of the keys like this one. The keys are spread over kSegments tables that grow
  // (and rehash) each on its own: a 64th of the whole at a time. One table of 100,000 and
  // more keys held the event loop 9-12 ms each time it grew (at 12,000/s).
  KeySet& segment(const CopyKey& key) { return remembered_[key.high % kSegments]; }
  static constexpr std::size_t kSegments = 64;
  std::deque<Remembered> remembered_order_;  // oldest first
  std::array<KeySet, kSegments> remembered_;
};

// "Sat, 13 Nov 2010 23:29:00 GMT" for a unix time (RFC 3261 §20.17).
std::string rfc1123_date(std::int64_t unix_seconds);

}  // namespace herald::services::registrar
