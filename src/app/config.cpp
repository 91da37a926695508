#include "app/config.h"

#include <fmt/format.h>
#include <sched.h>

#include <toml++/toml.h>

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <set>
#include <thread>

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

std::uint32_t auto_workers() {
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  int count = sched_getaffinity(0, sizeof cpus, &cpus) == 0 ? CPU_COUNT(&cpus) : 0;
  if (count <= 0) count = static_cast<int>(std::thread::hardware_concurrency());
  return static_cast<std::uint32_t>(std::clamp<std::int64_t>(count, 1, kMaxWorkers));
}

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

namespace {

constexpr std::int64_t kDay = 86400;

// Reads options out of one file's tables: each reader returns false after setting the error,
// which names the file, the line and the option.
class Reader {
 public:
  Reader(const std::filesystem::path& file, std::string& error) : file_(file), error_(error) {}

  bool fail(const toml::node& node, std::string_view option, std::string_view expected) {
    error_ = fmt::format("{}: option '{}' must be {}", where(file_, node), option, expected);
    return false;
  }
  // The sub-table `name` of `table` with only `known` keys, or null (absent, or the error set:
  // then `ok` is false).
  const toml::table* section(const toml::table& table, std::string_view name,
                             const std::set<std::string, std::less<>>& known, bool& ok) {
    ok = true;
    const toml::node* node = table.get(name);
    if (node == nullptr) return nullptr;
    const toml::table* sub = known_table(file_, *node, name, known, error_);
    ok = sub != nullptr;
    return sub;
  }
  bool boolean(const toml::table& t, std::string_view key, std::string_view option, bool& out) {
    const toml::node* node = t.get(key);
    if (node == nullptr) return true;
    auto v = node->value<bool>();
    if (!v) return fail(*node, option, "true or false");
    out = *v;
    return true;
  }
  template <class T>
  bool integer(const toml::table& t, std::string_view key, std::string_view option, std::int64_t min,
               std::int64_t max, T& out) {
    const toml::node* node = t.get(key);
    if (node == nullptr) return true;
    auto v = node->value<std::int64_t>();
    if (!v || *v < min || *v > max) return fail(*node, option, fmt::format("an integer from {} to {}", min, max));
    out = static_cast<T>(*v);
    return true;
  }
  bool seconds(const toml::table& t, std::string_view key, std::string_view option, std::int64_t min,
               std::int64_t max, std::chrono::seconds& out) {
    std::int64_t value = out.count();
    if (!integer(t, key, option, min, max, value)) return false;
    out = std::chrono::seconds(value);
    return true;
  }
  bool number(const toml::table& t, std::string_view key, std::string_view option, double min, double max,
              double& out) {
    const toml::node* node = t.get(key);
    if (node == nullptr) return true;
    auto v = node->value<double>();
    if (!v || *v < min || *v > max) return fail(*node, option, fmt::format("a number from {} to {}", min, max));
    out = *v;
    return true;
  }
  bool choice(const toml::table& t, std::string_view key, std::string_view option,
              std::initializer_list<std::string_view> allowed, std::string& out) {
    const toml::node* node = t.get(key);
    if (node == nullptr) return true;
    auto v = node->value<std::string>();
    if (!v || std::find(allowed.begin(), allowed.end(), *v) == allowed.end()) {
      // "a", "b" or "c"
      std::string list;
      std::size_t i = 0;
      for (std::string_view a : allowed) {
        if (i > 0) list += i + 1 == allowed.size() ? " or " : ", ";
        list += fmt::format("\"{}\"", a);
        ++i;
      }
      return fail(*node, option, list);
    }
    out = *v;
    return true;
  }
  bool subnets(const toml::table& t, std::string_view key, std::string_view option,
               std::vector<sip::transport::Subnet>& out) {
    const toml::node* node = t.get(key);
    if (node == nullptr) return true;
    const toml::array* array = node->as_array();
    if (array == nullptr) return fail(*node, option, "an array of addresses or networks (\"10.0.0.0/8\")");
    out.clear();
    for (const toml::node& item : *array) {
      auto v = item.value<std::string>();
      auto subnet = v ? sip::transport::parse_subnet(*v) : std::nullopt;
      if (!subnet) return fail(item, option, "an array of addresses or networks (\"10.0.0.0/8\", \"::1\")");
      out.push_back(*subnet);
    }
    return true;
  }
  void error(const toml::node& node, std::string_view what) { error_ = fmt::format("{}: {}", where(file_, node), what); }

 private:
  const std::filesystem::path& file_;
  std::string& error_;
};

bool read_top(Reader& r, const toml::table& table, Config& c) {
  if (const toml::node* node = table.get("listen")) {
    const toml::array* array = node->as_array();
    if (array == nullptr || array->empty()) return r.fail(*node, "listen", "a non-empty array of \"udp:ADDR:PORT\" strings");
    for (const toml::node& item : *array) {
      auto s = item.value<std::string>();
      if (!s) return r.fail(item, "listen", "an array of strings");
      std::string why;
      auto point = parse_listen(*s, why);
      if (!point) {
        r.error(item, fmt::format("option 'listen': {}", why));
        return false;
      }
      c.listen.push_back(*point);
    }
  }
  if (const toml::node* node = table.get("data_dir")) {
    auto s = node->value<std::string>();
    if (!s || s->empty()) return r.fail(*node, "data_dir", "a non-empty path");
    c.data_dir = *s;
  }
  if (const toml::node* node = table.get("log_level")) {
    auto s = node->value<std::string>();
    static const std::set<std::string, std::less<>> levels = {"trace", "debug", "info", "warn", "error", "critical", "off"};
    if (!s || !levels.contains(*s)) return r.fail(*node, "log_level", "one of trace, debug, info, warn, error, critical, off");
    c.log_level = *s;
  }
  if (const toml::node* node = table.get("workers")) {
    auto text = node->value<std::string>();
    auto number = node->value<std::int64_t>();
    if (text && *text == "auto") {
      c.workers = auto_workers();
    } else if (number && *number >= 1 && *number <= kMaxWorkers) {
      c.workers = static_cast<std::uint32_t>(*number);
    } else {
      return r.fail(*node, "workers", fmt::format("\"auto\" or an integer from 1 to {}", kMaxWorkers));
    }
  }
  if (!r.boolean(table, "store_thread", "store_thread", c.store_thread)) return false;
  if (const toml::node* node = table.get("domains")) {
    const toml::array* array = node->as_array();
    if (array == nullptr) return r.fail(*node, "domains", "an array of domain names");
    for (const toml::node& item : *array) {
      auto s = item.value<std::string>();
      if (!s || s->empty()) return r.fail(item, "domains", "an array of non-empty strings");
      c.domains.push_back(*s);
    }
  }
  if (const toml::node* node = table.get("server_header")) {
    auto s = node->value<std::string>();
    if (!s) return r.fail(*node, "server_header", "a string (empty to send none)");
    c.server_header = *s;
  }
  if (const toml::node* node = table.get("auth")) {
    auto v = node->value<std::string>();
    if (!v || (*v != "required" && *v != "off")) return r.fail(*node, "auth", "\"required\" or \"off\"");
    c.auth = *v;
  }
  if (const toml::node* node = table.get("auth_algorithms")) {
    const toml::array* array = node->as_array();
    if (array == nullptr || array->empty()) return r.fail(*node, "auth_algorithms", "a non-empty array of \"SHA-256\" / \"MD5\"");
    c.auth_algorithms.clear();
    for (const toml::node& item : *array) {
      auto v = item.value<std::string>();
      if (!v || (*v != "SHA-256" && *v != "MD5") ||
          std::find(c.auth_algorithms.begin(), c.auth_algorithms.end(), *v) != c.auth_algorithms.end()) {
        return r.fail(item, "auth_algorithms", "distinct values among \"SHA-256\" and \"MD5\"");
      }
      c.auth_algorithms.push_back(*v);
    }
  }
  return true;
}

bool read_limits(Reader& r, const toml::table& table, Config& c) {
  static const std::set<std::string, std::less<>> keys = {
      "max_message_bytes",   "max_header_bytes",    "max_tcp_connections",    "max_tcp_connections_per_source",
      "tcp_idle_timeout",    "tcp_message_timeout", "tcp_unconfirmed_timeout"};
  bool ok = true;
  const toml::table* t = r.section(table, "limits", keys, ok);
  if (t == nullptr) return ok;
  return r.integer(*t, "max_message_bytes", "limits.max_message_bytes", 1024, 1 << 20, c.max_message_bytes) &&
         r.integer(*t, "max_header_bytes", "limits.max_header_bytes", 512, 1 << 20, c.max_header_bytes) &&
         r.integer(*t, "max_tcp_connections", "limits.max_tcp_connections", 1, 1 << 20, c.max_tcp_connections) &&
         r.integer(*t, "max_tcp_connections_per_source", "limits.max_tcp_connections_per_source", 0, 1 << 20,
                   c.max_tcp_connections_per_source) &&
         r.seconds(*t, "tcp_idle_timeout", "limits.tcp_idle_timeout", 1, 86400, c.tcp_idle_timeout) &&
         r.seconds(*t, "tcp_message_timeout", "limits.tcp_message_timeout", 1, 3600, c.tcp_message_timeout) &&
         r.seconds(*t, "tcp_unconfirmed_timeout", "limits.tcp_unconfirmed_timeout", 1, 3600,
                   c.tcp_unconfirmed_timeout);
}

bool read_security(Reader& r, const toml::table& table, Config& c) {
  static const std::set<std::string, std::less<>> keys = {
      "trusted",        "requests_per_second", "request_burst", "source_failures",   "account_failures",
      "failure_window", "backoff",             "max_backoff",   "hide_unknown_users"};
  bool ok = true;
  const toml::table* t = r.section(table, "security", keys, ok);
  if (t == nullptr) return ok;
  if (!r.subnets(*t, "trusted", "security.trusted", c.trusted) ||
      !r.number(*t, "requests_per_second", "security.requests_per_second", 0, 1e9, c.requests_per_second) ||
      !r.number(*t, "request_burst", "security.request_burst", 1, 1e9, c.request_burst) ||
      !r.integer(*t, "source_failures", "security.source_failures", 1, 1000000, c.source_failures) ||
      !r.integer(*t, "account_failures", "security.account_failures", 1, 1000000, c.account_failures) ||
      !r.seconds(*t, "failure_window", "security.failure_window", 1, kDay * 7, c.failure_window) ||
      !r.seconds(*t, "backoff", "security.backoff", 1, 86400, c.backoff) ||
      !r.seconds(*t, "max_backoff", "security.max_backoff", 1, kDay * 7, c.max_backoff) ||
      !r.boolean(*t, "hide_unknown_users", "security.hide_unknown_users", c.hide_unknown_users)) {
    return false;
  }
  if (c.backoff > c.max_backoff) {
    r.error(*t, "security.backoff is above security.max_backoff");
    return false;
  }
  return true;
}

bool read_registrar(Reader& r, const toml::table& table, Config& c) {
  static const std::set<std::string, std::less<>> keys = {"default_expires", "min_expires", "max_expires",
                                                           "unknown_user_status"};
  bool ok = true;
  const toml::table* t = r.section(table, "registrar", keys, ok);
  if (t == nullptr) return ok;
  if (!r.integer(*t, "default_expires", "registrar.default_expires", 1, kDay * 7, c.default_expires) ||
      !r.integer(*t, "min_expires", "registrar.min_expires", 0, 86400, c.min_expires) ||
      !r.integer(*t, "max_expires", "registrar.max_expires", 1, kDay * 7, c.max_expires)) {
    return false;
  }
  if (const toml::node* status = t->get("unknown_user_status")) {
    auto v = status->value<std::int64_t>();
    if (!v || (*v != 403 && *v != 404)) return r.fail(*status, "registrar.unknown_user_status", "403 or 404");
    c.unknown_user_status = static_cast<int>(*v);
  }
  if (c.min_expires > c.max_expires) {
    r.error(*t, "registrar.min_expires is above registrar.max_expires");
    return false;
  }
  return true;
}

bool read_proxy(Reader& r, const toml::table& table, Config& c) {
  static const std::set<std::string, std::less<>> keys = {"mode", "record_route", "relay", "timer_c", "hosts_file"};
  bool ok = true;
  const toml::table* t = r.section(table, "proxy", keys, ok);
  if (t == nullptr) return ok;
  if (const toml::node* mode = t->get("mode")) {
    auto v = mode->value<std::string>();
    if (!v || (*v != "proxy" && *v != "redirect")) return r.fail(*mode, "proxy.mode", "\"proxy\" or \"redirect\"");
    c.proxy_mode = *v;
  }
  if (!r.boolean(*t, "record_route", "proxy.record_route", c.record_route) ||
      !r.boolean(*t, "relay", "proxy.relay", c.relay) ||
      !r.seconds(*t, "timer_c", "proxy.timer_c", 1, 86400, c.timer_c)) {
    return false;
  }
  if (const toml::node* hosts = t->get("hosts_file")) {
    auto v = hosts->value<std::string>();
    if (!v || v->empty()) return r.fail(*hosts, "proxy.hosts_file", "a non-empty path");
    c.hosts_file = *v;
  }
  return true;
}

bool read_im(Reader& r, const toml::table& table, Config& c) {
  static const std::set<std::string, std::less<>> keys = {"store",        "expiry",         "max_per_user",
                                                           "retry_interval", "answer_within", "store_from",
                                                           "max_per_sender", "max_from_outside"};
  bool ok = true;
  const toml::table* t = r.section(table, "im", keys, ok);
  if (t == nullptr) return ok;
  return r.boolean(*t, "store", "im.store", c.im_store) &&
         r.seconds(*t, "expiry", "im.expiry", 60, kDay * 365, c.im_expiry) &&
         r.integer(*t, "max_per_user", "im.max_per_user", 1, 1000000, c.im_max_per_user) &&
         r.seconds(*t, "retry_interval", "im.retry_interval", 1, 86400, c.im_retry_interval) &&
         r.seconds(*t, "answer_within", "im.answer_within", 1, 30, c.im_answer_within) &&
         r.choice(*t, "store_from", "im.store_from", {"anyone", "local"}, c.im_store_from) &&
         r.integer(*t, "max_per_sender", "im.max_per_sender", 1, 1000000, c.im_max_per_sender) &&
         r.integer(*t, "max_from_outside", "im.max_from_outside", 0, 1000000, c.im_max_from_outside);
}

bool read_presence(Reader& r, const toml::table& table, Config& c) {
  static const std::set<std::string, std::less<>> keys = {
      "subscribe_default_expires", "subscribe_min_expires",  "subscribe_max_expires", "publish_default_expires",
      "publish_min_expires",       "publish_max_expires",    "registration_state",    "same_domain",
      "other_domains",             "max_document_bytes",     "max_document_depth",    "max_document_elements",
      "max_publications",          "max_watchers",           "max_subscriptions_per_watcher",
      "max_subscriptions_per_source", "max_pending",         "pending_expires"};
  bool ok = true;
  const toml::table* t = r.section(table, "presence", keys, ok);
  if (t == nullptr) return ok;
  constexpr std::int64_t kMillion = 1000000;
  if (!r.integer(*t, "subscribe_default_expires", "presence.subscribe_default_expires", 1, kDay,
                 c.subscribe_default_expires) ||
      !r.integer(*t, "subscribe_min_expires", "presence.subscribe_min_expires", 1, kDay, c.subscribe_min_expires) ||
      !r.integer(*t, "subscribe_max_expires", "presence.subscribe_max_expires", 1, kDay, c.subscribe_max_expires) ||
      !r.integer(*t, "publish_default_expires", "presence.publish_default_expires", 1, kDay,
                 c.publish_default_expires) ||
      !r.integer(*t, "publish_min_expires", "presence.publish_min_expires", 1, kDay, c.publish_min_expires) ||
      !r.integer(*t, "publish_max_expires", "presence.publish_max_expires", 1, kDay, c.publish_max_expires) ||
      !r.boolean(*t, "registration_state", "presence.registration_state", c.registration_state) ||
      !r.choice(*t, "same_domain", "presence.same_domain", {"allow", "block", "polite-block", "confirm"},
                c.same_domain) ||
      !r.choice(*t, "other_domains", "presence.other_domains", {"allow", "block", "polite-block", "confirm"},
                c.other_domains) ||
      !r.integer(*t, "max_document_bytes", "presence.max_document_bytes", 256, 1 << 20, c.max_document_bytes) ||
      !r.integer(*t, "max_document_depth", "presence.max_document_depth", 3, 1000, c.max_document_depth) ||
      !r.integer(*t, "max_document_elements", "presence.max_document_elements", 3, kMillion,
                 c.max_document_elements) ||
      !r.integer(*t, "max_publications", "presence.max_publications", 1, 1000, c.max_publications) ||
      !r.integer(*t, "max_watchers", "presence.max_watchers", 1, kMillion, c.max_watchers) ||
      !r.integer(*t, "max_subscriptions_per_watcher", "presence.max_subscriptions_per_watcher", 1, kMillion,
                 c.max_subscriptions_per_watcher) ||
      !r.integer(*t, "max_subscriptions_per_source", "presence.max_subscriptions_per_source", 1, kMillion,
                 c.max_subscriptions_per_source) ||
      !r.integer(*t, "max_pending", "presence.max_pending", 1, kMillion, c.max_pending) ||
      !r.integer(*t, "pending_expires", "presence.pending_expires", 1, kDay, c.pending_expires)) {
    return false;
  }
  if (c.subscribe_min_expires > c.subscribe_max_expires || c.publish_min_expires > c.publish_max_expires) {
    r.error(*t, "presence: a min_expires is above its max_expires");
    return false;
  }
  return true;
}

bool read_timers(Reader& r, const toml::table& table, Config& c) {
  static const std::set<std::string, std::less<>> keys = {"t1", "t2", "t4"};
  bool ok = true;
  const toml::table* t = r.section(table, "timers", keys, ok);
  if (t == nullptr) return ok;
  std::int64_t t1 = c.t1.count(), t2 = c.t2.count(), t4 = c.t4.count();
  if (!r.integer(*t, "t1", "timers.t1", 10, 60000, t1) || !r.integer(*t, "t2", "timers.t2", 10, 600000, t2) ||
      !r.integer(*t, "t4", "timers.t4", 10, 600000, t4)) {
    return false;
  }
  c.t1 = std::chrono::milliseconds(t1);
  c.t2 = std::chrono::milliseconds(t2);
  c.t4 = std::chrono::milliseconds(t4);
  return true;
}

}  // namespace

std::vector<sip::transport::Subnet> default_trusted() {
  return {*sip::transport::parse_subnet("127.0.0.0/8"), *sip::transport::parse_subnet("::1")};
}

std::optional<Config> load_config(const std::filesystem::path& file, std::string& error) {
  toml::table table;
  try {
    table = toml::parse_file(file.string());
  } catch (const toml::parse_error& e) {
    error = fmt::format("{}:{}: {}", file.string(), e.source().begin.line, e.description());
    return std::nullopt;
  }
  static const std::set<std::string, std::less<>> top_keys = {
      "listen", "data_dir",        "log_level", "workers",   "store_thread", "domains", "server_header", "limits",
      "timers", "auth",            "auth_algorithms", "registrar", "proxy", "im",    "presence",      "security"};
  for (auto&& [key, node] : table) {
    if (!top_keys.contains(key.str())) {
      error = fmt::format("{}: unknown option '{}'", where(file, node), key.str());
      return std::nullopt;
    }
  }
  Config c;
  Reader reader(file, error);
  for (auto read : {read_top, read_limits, read_security, read_registrar, read_proxy, read_im, read_presence,
                    read_timers}) {
    if (!read(reader, table, c)) return std::nullopt;
  }
  fill_derived(c);
  return c;
}

}  // namespace herald::app
