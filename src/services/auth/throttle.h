#pragma once

#include <boost/asio/ip/address.hpp>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "sip/transport/source_limits.h"

namespace herald::services::auth {

// Why a failure was counted.
enum class Failure : std::uint8_t {
  kBadCredentials,  // a digest that does not verify: a wrong password, or an unknown user
  kUnknownUser,     // a request for a user that does not exist (404, or what stands for it)
};

struct ThrottleConfig {
  // Failures a source may make within `window` before it is put in back-off.
  std::uint32_t source_failures = 10;
  // Failed authentications an account may take within `window` (from all sources) before it
  // is guarded: then only sources it has authenticated from lately are heard for it.
  std::uint32_t account_failures = 50;
  // How long failures are remembered: a source or account quiet for this long after its last
  // failure and its back-off starts afresh.
  std::chrono::seconds window{900};
  // The first back-off; each failure after it doubles the next, up to max_backoff.
  std::chrono::seconds backoff{2};
  std::chrono::seconds max_backoff{900};
  // Sources not throttled (edge proxies, SBCs: one address for many users). The account
  // guard still applies to them.
  std::vector<sip::transport::Subnet> trusted;
  // Entries kept at most (sources and accounts each); beyond, the oldest quiet ones go, and
  // if none has been quiet for a window, the least recently failing one.
  std::size_t max_entries = 100'000;
  // Sources remembered per account as ones it authenticated from (its devices).
  std::size_t known_sources = 8;
  std::chrono::seconds known_for{std::chrono::hours(24 * 30)};
};

struct ThrottleCounters {
  std::uint64_t failures = 0;         // failures counted (both kinds)
  std::uint64_t source_blocks = 0;    // times a source was put in back-off
  std::uint64_t account_guards = 0;   // times an account was guarded
  std::uint64_t refused_source = 0;   // requests refused: their source was in back-off
  std::uint64_t refused_account = 0;  // credentials not checked: the account was guarded
  std::uint64_t sweeps = 0;           // times a full table was swept for quiet entries
};

// Failed-authentication throttling (and the same back-off for sources probing for users):
//  - per source (SourceKey): after source_failures failures within `window`, the source is in
//    back-off for `backoff`, doubling with each failure after, up to max_backoff; while in
//    back-off every request from it is refused (503 with Retry-After) without being looked at.
//  - per account: after account_failures failed authentications within `window`, from any
//    sources, the account is guarded (with the same doubling back-off): credentials for it are
//    then checked only from sources it authenticated from within known_for (its own devices),
//    and refused (503 with Retry-After) from any other, without being checked. So a dictionary
//    spread over many sources stalls too, and its user, on a source it has used, goes on.
// A dictionary attack of 500 words from one source with the defaults: 10 free guesses, then one
// per back-off period (2, 4 … 512 s, then 900 s each): about 120 hours; or, waiting to be
// forgotten (the first back-off, then a quiet window) for 11 more at a time: about 11 hours.
//
// A warn line names each source put in back-off and each account guarded, once per back-off.
// Time is the clock given (tests move it). Threading: one per process, shared by the shards (a
// source's requests for AORs of different shards count together): every call takes a mutex,
// but the checks every request makes (source_blocked, account_blocked) return at once, without
// it, while nothing at all is in back-off. Memory: at
// most max_entries sources and as many accounts; a full table is swept for quiet entries once a
// second at most, and otherwise an arbitrary entry makes way (finding the oldest would cost a
// scan of the table for each failure from a new source, and sources enough to fill it are what
// such a scan would be up against).
class Throttle {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  explicit Throttle(ThrottleConfig config, Clock clock = [] { return std::chrono::steady_clock::now(); });

  // Seconds `source` must still wait, when it is in back-off; nullopt when it may go on.
  std::optional<std::uint32_t> source_blocked(const boost::asio::ip::address& source);
  // Seconds credentials for `account` from `source` must wait, when the account is guarded and
  // `source` is not one it has authenticated from; nullopt otherwise.
  std::optional<std::uint32_t> account_blocked(std::string_view account, const boost::asio::ip::address& source);

  // A failure by `source`; `account` ("user@realm") for kBadCredentials, empty otherwise.
  void failed(const boost::asio::ip::address& source, std::string_view account, Failure why);
  // `source` authenticated as `account`: it becomes one of the account's known sources.
  void succeeded(const boost::asio::ip::address& source, std::string_view account);

  ThrottleCounters counters() const {
    const std::lock_guard lock(mutex_);
    return counters_;
  }
  std::size_t sources() const {
    const std::lock_guard lock(mutex_);
    return sources_.size();
  }
  std::size_t accounts() const {
    const std::lock_guard lock(mutex_);
    return accounts_.size();
  }

 private:
  using TimePoint = std::chrono::steady_clock::time_point;
  // Failures of one source or account within the window, and its back-off.
  struct Record {
    std::uint32_t failures = 0;
    std::uint32_t over = 0;  // failures beyond the allowance: the back-off doubles with each
    TimePoint last_failure;
    TimePoint blocked_until;
  };
  struct Account {
    Record record;
    std::vector<std::pair<sip::transport::SourceKey, TimePoint>> known;  // source, last success
  };

  // Counts a failure in `r`; true when this one put it in back-off (it was not before).
  bool count(Record& r, std::uint32_t allowance, TimePoint now);
  static std::optional<std::uint32_t> remaining(const Record& r, TimePoint now);
  template <class Map>
  void make_room(Map& map, TimePoint& swept, TimePoint now);

  // Whether some source or account may still be in back-off at `now` (no lock).
  bool any_blocked(TimePoint now) const { return now.time_since_epoch().count() < blocks_end_.load(std::memory_order_relaxed); }

  ThrottleConfig config_;
  Clock clock_;
  mutable std::mutex mutex_;  // guards everything below but blocks_end_
  // The latest end of a back-off ever set (steady clock ticks): none is in force after it.
  std::atomic<TimePoint::rep> blocks_end_{0};
  std::unordered_map<sip::transport::SourceKey, Record, sip::transport::SourceKeyHash> sources_;
  std::unordered_map<std::string, Account> accounts_;
  TimePoint sources_swept_;  // the last sweeps of the full tables
  TimePoint accounts_swept_;
  ThrottleCounters counters_;
};

}  // namespace herald::services::auth
