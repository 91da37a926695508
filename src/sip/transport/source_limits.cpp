#include "sip/transport/source_limits.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>

#include "sip/msg/grammar.h"

namespace herald::sip::transport {
namespace {

bool prefix_matches(const unsigned char* a, const unsigned char* b, unsigned bits) {
  const unsigned whole = bits / 8;
  if (!std::equal(a, a + whole, b)) return false;
  const unsigned rest = bits % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<unsigned char>(0xFF << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

}  // namespace

bool Subnet::contains(const boost::asio::ip::address& address) const {
  if (address.is_v4() != network.is_v4()) return false;
  if (address.is_v4()) {
    const auto a = address.to_v4().to_bytes();
    const auto n = network.to_v4().to_bytes();
    return prefix_matches(a.data(), n.data(), prefix);
  }
  const auto a = address.to_v6().to_bytes();
  const auto n = network.to_v6().to_bytes();
  return prefix_matches(a.data(), n.data(), prefix);
}

std::optional<Subnet> parse_subnet(std::string_view text) {
  const std::size_t slash = text.find('/');
  boost::system::error_code ec;
  Subnet subnet;
  subnet.network = boost::asio::ip::make_address(std::string(text.substr(0, slash)), ec);
  if (ec) return std::nullopt;
  const unsigned width = subnet.network.is_v4() ? 32 : 128;
  subnet.prefix = width;
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    unsigned value = 0;
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (digits.empty() || error != std::errc() || end != digits.data() + digits.size() || value > width) {
      return std::nullopt;
    }
    subnet.prefix = value;
  }
  return subnet;
}

bool contains_any(const std::vector<Subnet>& subnets, const boost::asio::ip::address& address) {
  return std::any_of(subnets.begin(), subnets.end(), [&](const Subnet& s) { return s.contains(address); });
}

SourceKey source_key(const boost::asio::ip::address& address) {
  SourceKey key;
  if (address.is_v4()) {
    key.bytes[0] = 4;
    const auto bytes = address.to_v4().to_bytes();
    std::copy(bytes.begin(), bytes.end(), key.bytes.begin() + 1);
  } else {
    key.bytes[0] = 6;
    const auto bytes = address.to_v6().to_bytes();
    std::copy(bytes.begin(), bytes.begin() + 8, key.bytes.begin() + 1);  // the /64
  }
  return key;
}

std::size_t SourceKeyHash::operator()(const SourceKey& key) const noexcept {
  // Unkeyed: a peer's address is what it holds, not what it picks, and the table is bounded.
  return static_cast<std::size_t>(
      grammar::hash64(std::string_view(reinterpret_cast<const char*>(key.bytes.data()), key.bytes.size())));
}

RequestBudget::RequestBudget(RequestBudgetConfig config) : config_(std::move(config)) {}

RequestBudget::Verdict RequestBudget::admit(const boost::asio::ip::address& source, Clock::time_point now) {
  if (config_.rate <= 0 || contains_any(config_.trusted, source)) return Verdict::kAdmit;
  const SourceKey key = source_key(source);
  auto found = buckets_.find(key);
  if (found == buckets_.end()) {
    if (buckets_.size() >= config_.max_sources && now - swept_ >= std::chrono::seconds(1)) forget_idle(now);
    if (buckets_.size() >= config_.max_sources) {
      ++counters_.untracked;
      return Verdict::kAdmit;
    }
    found = buckets_.emplace(key, Bucket{config_.burst, now, {}}).first;
  }
  Bucket& bucket = found->second;
  const double elapsed = std::chrono::duration<double>(now - bucket.refilled).count();
  bucket.tokens = std::min(config_.burst, bucket.tokens + elapsed * config_.rate);
  bucket.refilled = now;
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1;
    return Verdict::kAdmit;
  }
  if (now - bucket.noticed >= std::chrono::seconds(1)) {
    bucket.noticed = now;
    ++counters_.refused;
    return Verdict::kRefuse;
  }
  ++counters_.dropped;
  return Verdict::kDrop;
}

std::uint32_t RequestBudget::retry_after() const {
  return std::max<std::uint32_t>(1, static_cast<std::uint32_t>(std::ceil(1 / std::max(config_.rate, 1e-3))));
}

void RequestBudget::forget_idle(Clock::time_point now) {
  swept_ = now;
  ++counters_.sweeps;
  // A bucket that has refilled to its burst says nothing a new one would not.
  const auto full_after = std::chrono::duration<double>(config_.burst / std::max(config_.rate, 1e-3));
  std::erase_if(buckets_, [&](const auto& entry) { return now - entry.second.refilled >= full_after; });
}

}  // namespace herald::sip::transport
