#pragma once

#include <array>
#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

// What the limits per source are counted under, and the request budget each source gets
// (DESIGN.md: "every listener and every stored thing has a limit that one source cannot
// exhaust for others").
namespace herald::sip::transport {

// An IP network, "10.0.0.0/8" or "2001:db8::/32"; a bare address is a /32 or /128.
struct Subnet {
  boost::asio::ip::address network;
  unsigned prefix = 0;

  bool contains(const boost::asio::ip::address& address) const;
};

// nullopt for text that is no address, or a prefix beyond the family's width.
std::optional<Subnet> parse_subnet(std::string_view text);

bool contains_any(const std::vector<Subnet>& subnets, const boost::asio::ip::address& address);

// The key per-source state is kept under: an IPv4 address, or the /64 an IPv6 address is in
// (a host is commonly given a whole /64, so counting per address would let it multiply its
// share by 2^64).
struct SourceKey {
  std::array<std::uint8_t, 17> bytes{};  // [0]: 4 or 6; then the address (IPv6: its /64)

  bool operator==(const SourceKey&) const = default;
};

SourceKey source_key(const boost::asio::ip::address& address);

struct SourceKeyHash {
  std::size_t operator()(const SourceKey& key) const noexcept;
};

struct RequestBudgetConfig {
  // Requests a second each source may send on average (0: no budget), and how many it may
  // send in a burst above that.
  double rate = 200;
  double burst = 400;
  std::vector<Subnet> trusted;  // sources without a budget (edge proxies, SBCs, loopback)
  // Sources tracked at most; beyond, sources whose buckets are full are forgotten (one sweep of
  // the table a second at most, so that sources enough to fill it cannot make every new one
  // cost a sweep), and meanwhile a new source is admitted untracked (memory stays bounded).
  std::size_t max_sources = 100'000;
};

struct RequestBudgetCounters {
  std::uint64_t refused = 0;    // answered 503 with Retry-After
  std::uint64_t dropped = 0;    // dropped without an answer
  std::uint64_t untracked = 0;  // admitted because the table was full
  std::uint64_t sweeps = 0;     // times the full table was swept for idle sources
};

// A token bucket per source (SourceKey): a request takes a token; tokens come back at `rate` a
// second up to `burst`. A request with no token left is refused: the first in a second from
// its source gets an answer (503 with Retry-After, so that a legitimate client learns to back
// off), the others are dropped (an answer to each would cost as much as serving them, and over
// UDP would reflect a spoofed flood onto its victim).
//
// Threading: one per shard, on its thread.
class RequestBudget {
 public:
  enum class Verdict : std::uint8_t { kAdmit, kRefuse, kDrop };
  using Clock = std::chrono::steady_clock;

  explicit RequestBudget(RequestBudgetConfig config);

  Verdict admit(const boost::asio::ip::address& source, Clock::time_point now);
  // Seconds a refused source should wait (Retry-After): until a token is back, at least 1.
  std::uint32_t retry_after() const;

  const RequestBudgetCounters& counters() const { return counters_; }
  std::size_t sources() const { return buckets_.size(); }

 private:
  struct Bucket {
    double tokens = 0;
    Clock::time_point refilled;
    Clock::time_point noticed;  // when the last 503 went to this source
  };
  void forget_idle(Clock::time_point now);

  RequestBudgetConfig config_;
  std::unordered_map<SourceKey, Bucket, SourceKeyHash> buckets_;
  Clock::time_point swept_;  // the last sweep of the full table
  RequestBudgetCounters counters_;
};

}  // namespace herald::sip::transport
