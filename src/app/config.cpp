#include "app/config.h"

#include <fmt/format.h>

#include <toml++/toml.h>

#include <boost/asio/ip/address.hpp>
#include <algorithm>
#include <set>

namespace herald::app {
namespace {

using sip::transport::ListenPoint;
using sip::transport::Protocol;

void fill_derived(Config& c) {
  if (c.listen.empty()) {
    auto loopback = boost::asio::ip::make_address("127.0.0.1");
    c.listen.push_back({Protocol::kUdp, loopback, 5060});
    c.listen.push_back({Protocol::kTcp, loopback, 5060});
  }
  if (c.domains.empty() || c.domains_derived) {
    c.domains = {c.listen.front().address.to_string()};
    c.domains_derived = true;
  }
}

std::string where(const std::filesystem::path& file, const toml::node& node) {
  return fmt::format("{}:{}", file.string(), node.source().begin.line);
}

// The sub-table `name` if `node` is a table whose keys are all in `known`; otherwise null
// with `error` naming the file, line and option.
const toml::table* known_table(const std::filesystem::path& file, const toml::node& node, std::string_view name,
                               const std::set<std::string, std::less<>>& known, std::string& error) {
  const toml::table* table = node.as_table();
  if (table == nullptr) {
    error = fmt::format("{}: option '{}' must be a table", where(file, node), name);
    return nullptr;
  }
  for (auto&& [key, value] : *table) {
    if (!known.contains(key.str())) {
      error = fmt::format("{}: unknown option '{}.{}'", where(file, value), name, key.str());
      return nullptr;
    }
  }
  return table;
}

}  // namespace

Config default_config() {
  Config c;
  fill_derived(c);
  return c;
}

std::optional<ListenPoint> parse_listen(std::string_view text, std::string& error) {
  ListenPoint p;
  std::size_t colon = text.find(':');
  if (colon == std::string_view::npos) {
    error = fmt::format("'{}' is not PROTOCOL:ADDRESS:PORT", text);
    return std::nullopt;
  }
  std::string_view proto = text.substr(0, colon);
  if (proto == "udp") {
    p.protocol = Protocol::kUdp;
  } else if (proto == "tcp") {
    p.protocol = Protocol::kTcp;
  } else {
    error = fmt::format("'{}': protocol must be udp or tcp", text);
    return std::nullopt;
  }
  std::string_view rest = text.substr(colon + 1);
  std::string_view host;
  std::string_view port;
  if (!rest.empty() && rest.front() == '[') {
    std::size_t close = rest.find(']');
    if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':') {
      error = fmt::format("'{}': IPv6 address must be written [ADDRESS]:PORT", text);
      return std::nullopt;
    }
    host = rest.substr(1, close - 1);
    port = rest.substr(close + 2);
  } else {
    std::size_t last = rest.rfind(':');
    if (last == std::string_view::npos) {
      error = fmt::format("'{}' has no port", text);
      return std::nullopt;
    }
    host = rest.substr(0, last);
    port = rest.substr(last + 1);
  }
  boost::system::error_code ec;
  p.address = boost::asio::ip::make_address(std::string(host), ec);
  if (ec) {
    error = fmt::format("'{}': '{}' is not an IP address", text, host);
    return std::nullopt;
  }
  unsigned value = 0;
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos ||
      (value = static_cast<unsigned>(std::stoul(std::string(port)))) > 65535) {
    error = fmt::format("'{}': port must be 0-65535", text);
    return std::nullopt;
  }
  p.port = static_cast<std::uint16_t>(value);
  return p;
}

std::optional<Config> load_config(const std::filesystem::path& file, std::string& error) {
  toml::table table;
  try {
    table = toml::parse_file(file.string());
  } catch (const toml::parse_error& e) {
    error = fmt::format("{}:{}: {}", file.string(), e.source().begin.line, e.description());
    return std::nullopt;
  }
  Config c;
  static const std::set<std::string, std::less<>> kTopKeys = {"listen", "data_dir", "log_level", "workers", "store_thread",
                                                              "domains", "server_header", "limits", "timers",
                                                              "auth", "auth_algorithms", "registrar", "proxy",
                                                              "im", "presence"};
  static const std::set<std::string, std::less<>> kProxyKeys = {"mode", "record_route", "relay", "timer_c",
                                                                "hosts_file"};
  static const std::set<std::string, std::less<>> kPresenceKeys = {
      "subscribe_default_expires", "subscribe_min_expires", "subscribe_max_expires", "publish_default_expires",
      "publish_min_expires", "publish_max_expires", "registration_state", "same_domain", "other_domains"};
  static const std::set<std::string, std::less<>> kImKeys = {"store", "expiry", "max_per_user", "retry_interval"};
  static const std::set<std::string, std::less<>> kRegistrarKeys = {"default_expires", "min_expires", "max_expires",
                                                                    "unknown_user_status"};
  static const std::set<std::string, std::less<>> kLimitKeys = {"max_message_bytes", "max_header_bytes",
                                                                "max_tcp_connections", "tcp_idle_timeout"};
  static const std::set<std::string, std::less<>> kTimerKeys = {"t1", "t2", "t4"};
  for (auto&& [key, node] : table) {
    if (!kTopKeys.contains(key.str())) {
      error = fmt::format("{}: unknown option '{}'", where(file, node), key.str());
      return std::nullopt;
    }
  }
  auto fail = [&](const toml::node& node, std::string_view option, std::string_view expected) {
    error = fmt::format("{}: option '{}' must be {}", where(file, node), option, expected);
    return std::nullopt;
  };
  auto boolean = [&](const toml::table& t, std::string_view key, std::string_view option, bool& out) -> bool {
    const toml::node* node = t.get(key);
    if (node == nullptr) return true;
    auto v = node->value<bool>();
    if (!v) {
      fail(*node, option, "true or false");
      return false;
    }
    out = *v;
    return true;
  };
  auto integer = [&](const toml::table& t, std::string_view key, std::string_view option, std::int64_t min,
                     std::int64_t max, auto& out) -> bool {
    const toml::node* node = t.get(key);
    if (node == nullptr) return true;
    auto v = node->value<std::int64_t>();
    if (!v || *v < min || *v > max) {
      fail(*node, option, fmt::format("an integer from {} to {}", min, max));
      return false;
    }
    out = static_cast<std::remove_reference_t<decltype(out)>>(*v);
    return true;
  };

  if (const toml::node* node = table.get("listen")) {
    const toml::array* array = node->as_array();
    if (array == nullptr || array->empty()) return fail(*node, "listen", "a non-empty array of \"udp:ADDR:PORT\" strings");
    for (const toml::node& item : *array) {
      auto s = item.value<std::string>();
      if (!s) return fail(item, "listen", "an array of strings");
      std::string why;
      auto point = parse_listen(*s, why);
      if (!point) {
        error = fmt::format("{}: option 'listen': {}", where(file, item), why);
        return std::nullopt;
      }
      c.listen.push_back(*point);
    }
  }
  if (const toml::node* node = table.get("data_dir")) {
    auto s = node->value<std::string>();
    if (!s || s->empty()) return fail(*node, "data_dir", "a non-empty path");
    c.data_dir = *s;
  }
  if (const toml::node* node = table.get("log_level")) {
    auto s = node->value<std::string>();
    static const std::set<std::string, std::less<>> kLevels = {"trace", "debug", "info", "warn", "error", "critical", "off"};
    if (!s || !kLevels.contains(*s)) return fail(*node, "log_level", "one of trace, debug, info, warn, error, critical, off");
    c.log_level = *s;
  }
  // Registrations live on one shard until requests are routed to the shard owning their AOR.
  if (!integer(table, "workers", "workers", 1, 1, c.workers)) return std::nullopt;
  if (!boolean(table, "store_thread", "store_thread", c.store_thread)) return std::nullopt;
  if (const toml::node* node = table.get("domains")) {
    const toml::array* array = node->as_array();
    if (array == nullptr) return fail(*node, "domains", "an array of domain names");
    for (const toml::node& item : *array) {
      auto s = item.value<std::string>();
      if (!s || s->empty()) return fail(item, "domains", "an array of non-empty strings");
      c.domains.push_back(*s);
    }
  }
  if (const toml::node* node = table.get("server_header")) {
    auto s = node->value<std::string>();
    if (!s) return fail(*node, "server_header", "a string (empty to send none)");
    c.server_header = *s;
  }
  if (const toml::node* node = table.get("limits")) {
    const toml::table* limits = known_table(file, *node, "limits", kLimitKeys, error);
    if (limits == nullptr) return std::nullopt;
    std::int64_t idle = c.tcp_idle_timeout.count();
    if (!integer(*limits, "max_message_bytes", "limits.max_message_bytes", 1024, 1 << 20, c.max_message_bytes) ||
        !integer(*limits, "max_header_bytes", "limits.max_header_bytes", 512, 1 << 20, c.max_header_bytes) ||
        !integer(*limits, "max_tcp_connections", "limits.max_tcp_connections", 1, 1 << 20, c.max_tcp_connections) ||
        !integer(*limits, "tcp_idle_timeout", "limits.tcp_idle_timeout", 1, 86400, idle)) {
      return std::nullopt;
    }
    c.tcp_idle_timeout = std::chrono::seconds(idle);
  }
  if (const toml::node* node = table.get("auth")) {
    auto v = node->value<std::string>();
    if (!v || (*v != "required" && *v != "off")) return fail(*node, "auth", "\"required\" or \"off\"");
    c.auth = *v;
  }
  if (const toml::node* node = table.get("auth_algorithms")) {
    const toml::array* array = node->as_array();
    if (array == nullptr || array->empty()) return fail(*node, "auth_algorithms", "a non-empty array of \"SHA-256\" / \"MD5\"");
    c.auth_algorithms.clear();
    for (const toml::node& item : *array) {
      auto v = item.value<std::string>();
      if (!v || (*v != "SHA-256" && *v != "MD5") ||
          std::find(c.auth_algorithms.begin(), c.auth_algorithms.end(), *v) != c.auth_algorithms.end()) {
        return fail(item, "auth_algorithms", "distinct values among \"SHA-256\" and \"MD5\"");
      }
      c.auth_algorithms.push_back(*v);
    }
  }
  if (const toml::node* node = table.get("registrar")) {
    const toml::table* registrar = known_table(file, *node, "registrar", kRegistrarKeys, error);
    if (registrar == nullptr) return std::nullopt;
    if (!integer(*registrar, "default_expires", "registrar.default_expires", 1, 86400 * 7, c.default_expires) ||
        !integer(*registrar, "min_expires", "registrar.min_expires", 0, 86400, c.min_expires) ||
        !integer(*registrar, "max_expires", "registrar.max_expires", 1, 86400 * 7, c.max_expires)) {
      return std::nullopt;
    }
    if (const toml::node* status = registrar->get("unknown_user_status")) {
      auto v = status->value<std::int64_t>();
      if (!v || (*v != 403 && *v != 404)) return fail(*status, "registrar.unknown_user_status", "403 or 404");
      c.unknown_user_status = static_cast<int>(*v);
    }
    if (c.min_expires > c.max_expires) {
      error = fmt::format("{}: registrar.min_expires is above registrar.max_expires", where(file, *node));
      return std::nullopt;
    }
  }
  if (const toml::node* node = table.get("proxy")) {
    const toml::table* proxy = known_table(file, *node, "proxy", kProxyKeys, error);
    if (proxy == nullptr) return std::nullopt;
    if (const toml::node* mode = proxy->get("mode")) {
      auto v = mode->value<std::string>();
      if (!v || (*v != "proxy" && *v != "redirect")) return fail(*mode, "proxy.mode", "\"proxy\" or \"redirect\"");
      c.proxy_mode = *v;
    }
    std::int64_t timer_c = c.timer_c.count();
    if (!boolean(*proxy, "record_route", "proxy.record_route", c.record_route) ||
        !boolean(*proxy, "relay", "proxy.relay", c.relay) ||
        !integer(*proxy, "timer_c", "proxy.timer_c", 1, 86400, timer_c)) {
      return std::nullopt;
    }
    c.timer_c = std::chrono::seconds(timer_c);
    if (const toml::node* hosts = proxy->get("hosts_file")) {
      auto v = hosts->value<std::string>();
      if (!v || v->empty()) return fail(*hosts, "proxy.hosts_file", "a non-empty path");
      c.hosts_file = *v;
    }
  }
  if (const toml::node* node = table.get("im")) {
    const toml::table* im = known_table(file, *node, "im", kImKeys, error);
    if (im == nullptr) return std::nullopt;
    std::int64_t expiry = c.im_expiry.count(), retry = c.im_retry_interval.count();
    if (!boolean(*im, "store", "im.store", c.im_store) ||
        !integer(*im, "expiry", "im.expiry", 60, 86400 * 365, expiry) ||
        !integer(*im, "max_per_user", "im.max_per_user", 1, 1000000, c.im_max_per_user) ||
        !integer(*im, "retry_interval", "im.retry_interval", 1, 86400, retry)) {
      return std::nullopt;
    }
    c.im_expiry = std::chrono::seconds(expiry);
    c.im_retry_interval = std::chrono::seconds(retry);
  }
  if (const toml::node* node = table.get("presence")) {
    const toml::table* presence = known_table(file, *node, "presence", kPresenceKeys, error);
    if (presence == nullptr) return std::nullopt;
    constexpr std::int64_t kDay = 86400;
    if (!integer(*presence, "subscribe_default_expires", "presence.subscribe_default_expires", 1, kDay,
                 c.subscribe_default_expires) ||
        !integer(*presence, "subscribe_min_expires", "presence.subscribe_min_expires", 1, kDay,
                 c.subscribe_min_expires) ||
        !integer(*presence, "subscribe_max_expires", "presence.subscribe_max_expires", 1, kDay,
                 c.subscribe_max_expires) ||
        !integer(*presence, "publish_default_expires", "presence.publish_default_expires", 1, kDay,
                 c.publish_default_expires) ||
        !integer(*presence, "publish_min_expires", "presence.publish_min_expires", 1, kDay, c.publish_min_expires) ||
        !integer(*presence, "publish_max_expires", "presence.publish_max_expires", 1, kDay, c.publish_max_expires) ||
        !boolean(*presence, "registration_state", "presence.registration_state", c.registration_state)) {
      return std::nullopt;
    }
    for (auto [key, out] : {std::pair{"same_domain", &c.same_domain}, std::pair{"other_domains", &c.other_domains}}) {
      if (const toml::node* action = presence->get(key)) {
        auto v = action->value<std::string>();
        if (!v || (*v != "allow" && *v != "block" && *v != "polite-block" && *v != "confirm")) {
          return fail(*action, fmt::format("presence.{}", key), "\"allow\", \"block\", \"polite-block\" or \"confirm\"");
        }
        *out = *v;
      }
    }
    if (c.subscribe_min_expires > c.subscribe_max_expires || c.publish_min_expires > c.publish_max_expires) {
      error = fmt::format("{}: presence: a min_expires is above its max_expires", where(file, *node));
      return std::nullopt;
    }
  }
  if (const toml::node* node = table.get("timers")) {
    const toml::table* timers = known_table(file, *node, "timers", kTimerKeys, error);
    if (timers == nullptr) return std::nullopt;
    std::int64_t t1 = c.t1.count(), t2 = c.t2.count(), t4 = c.t4.count();
    if (!integer(*timers, "t1", "timers.t1", 10, 60000, t1) || !integer(*timers, "t2", "timers.t2", 10, 600000, t2) ||
        !integer(*timers, "t4", "timers.t4", 10, 600000, t4)) {
      return std::nullopt;
    }
    c.t1 = std::chrono::milliseconds(t1);
    c.t2 = std::chrono::milliseconds(t2);
    c.t4 = std::chrono::milliseconds(t4);
  }
  fill_derived(c);
  return c;
}

}  // namespace herald::app
