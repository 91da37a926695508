#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "client/user_agent.h"

namespace herald::client {

// One publication of event state for the UA's own AOR (RFC 3903 §4): the initial PUBLISH
// with a body, refreshes with SIP-If-Match and no body before it expires, modification, and
// removal. A 412 to a refresh or modification publishes the body anew; a 423 is answered
// once with Min-Expires.
//
// Lifetime: as Registration.
class Publication {
 public:
  Publication(UserAgent& ua, std::string event, std::uint32_t expires);
  Publication(const Publication&) = delete;
  Publication& operator=(const Publication&) = delete;
  ~Publication();

  // Publishes `body` (initial, or a modification of the live publication); `done` gets the
  // outcome. Refreshes then run by themselves; one that fails goes to `on_lost`.
  void publish(std::string content_type, std::string body, Completion done);
  void set_on_lost(Completion on_lost) { on_lost_ = std::move(on_lost); }
  // Removes the publication (Expires: 0 with its entity tag). Call only when published().
  void remove(Completion done);

  bool published() const { return !etag_.empty(); }
  const std::string& etag() const { return etag_; }
  std::uint32_t granted() const { return granted_; }

 private:
  enum class Kind { kInitial, kModify, kRefresh, kRemove };
  void send(Kind kind, std::uint32_t expires, bool retried, Completion done);
  void schedule_refresh();

  UserAgent& ua_;
  std::string event_;
  std::uint32_t expires_;
  Leg leg_;
  std::string content_type_;
  std::string body_;
  std::string etag_;
  std::uint32_t granted_ = 0;
  sip::txn::TimerId refresh_;
  Completion on_lost_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace herald::client
