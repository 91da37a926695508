#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "sip/transport/source_limits.h"
#include "sip/transport/transport.h"

namespace herald::app {

// The most shards `workers` may ask for.
constexpr std::int64_t kMaxWorkers = 256;
// `workers = "auto"`: one shard per core (the cores this process may run on), at least 1.
std::uint32_t auto_workers();

// The sources trusted by default: loopback (127.0.0.0/8, ::1), as fail2ban does.
std::vector<sip::transport::Subnet> default_trusted();

// Everything `herald serve` can be told, with the defaults it starts with when there is no
// config file. etc/herald.toml documents each option; load_config() rejects unknown ones.
struct Config {
  std::vector<sip::transport::ListenPoint> listen;  // default udp+tcp 127.0.0.1:5060
  std::filesystem::path data_dir = "var";
  std::string log_level = "info";
  std::uint32_t workers = auto_workers();  // shards, one event loop each ("auto": one per core)
  bool store_thread = true;   // the store's writes on a thread of their own (sqlite)
  std::vector<std::string> domains;  // default: the first listen address
  bool domains_derived = false;      // domains was not configured: it follows `listen`
  std::string server_header = "Herald/0.1.0";
  // limits
  std::size_t max_message_bytes = 65535;
  std::size_t max_header_bytes = std::size_t{16} * 1024;
  std::size_t max_tcp_connections = 4096;
  std::size_t max_tcp_connections_per_source = 64;
  std::chrono::seconds tcp_idle_timeout{600};
  std::chrono::seconds tcp_message_timeout{10};
  std::chrono::seconds tcp_unconfirmed_timeout{10};
  // security: per-source request budget, failed-authentication throttling, enumeration
  std::vector<sip::transport::Subnet> trusted = default_trusted();
  double requests_per_second = 200;
  double request_burst = 400;
  std::uint32_t source_failures = 10;
  std::uint32_t account_failures = 50;
  std::chrono::seconds failure_window{900};
  std::chrono::seconds backoff{2};
  std::chrono::seconds max_backoff{900};
  bool hide_unknown_users = false;
  // authentication: "required" (digest on REGISTER and requests from local users) or "off"
  std::string auth = "required";
  // digest algorithms offered, in challenge order: "SHA-256", "MD5"
  std::vector<std::string> auth_algorithms = {"SHA-256", "MD5"};
  // registrar (RFC 3261 §10.3)
  std::uint32_t default_expires = 3600;
  std::uint32_t min_expires = 60;
  std::uint32_t max_expires = 86400;
  int unknown_user_status = 404;  // 404 or 403
  // proxy (RFC 3261 §16)
  std::string proxy_mode = "proxy";  // "proxy" or "redirect"
  bool record_route = true;
  bool relay = false;
  std::chrono::seconds timer_c{181};  // RFC 3261 §16.6 step 11: more than 3 minutes
  std::filesystem::path hosts_file = "/etc/hosts";
  // instant messaging (RFC 3428) store-and-forward
  bool im_store = true;
  std::chrono::seconds im_expiry{7 * 86400};
  std::uint32_t im_max_per_user = 100;
  std::chrono::seconds im_retry_interval{30};
  std::chrono::seconds im_answer_within{10};
  std::string im_store_from = "anyone";  // "anyone" or "local"
  std::uint32_t im_max_per_sender = 20;
  std::uint32_t im_max_from_outside = 50;
  // presence (RFC 6665 subscriptions, RFC 3903 publications, RFC 5025 authorization)
  std::uint32_t subscribe_default_expires = 3600;  // RFC 3856 §6.4
  std::uint32_t subscribe_min_expires = 60;
  std::uint32_t subscribe_max_expires = 3600;
  std::uint32_t publish_default_expires = 3600;
  std::uint32_t publish_min_expires = 60;
  std::uint32_t publish_max_expires = 3600;
  bool registration_state = true;          // no publication: online while registered
  std::string same_domain = "allow";       // watchers no rule names: allow, block, polite-block, confirm
  std::string other_domains = "confirm";
  std::size_t max_document_bytes = 8192;
  std::size_t max_document_depth = 32;
  std::size_t max_document_elements = 1024;
  std::size_t max_publications = 8;
  std::size_t max_watchers = 1000;                  // subscriptions to one presentity
  std::size_t max_subscriptions_per_watcher = 200;  // from one watcher AOR
  std::size_t max_subscriptions_per_source = 1000;  // from one source address
  std::size_t max_pending = 100;                    // pending subscriptions to one presentity
  std::uint32_t pending_expires = 600;              // the longest a pending subscription is granted
  // RFC 3261 timers
  std::chrono::milliseconds t1{500};
  std::chrono::milliseconds t2{4000};
  std::chrono::milliseconds t4{5000};
};

// "udp:127.0.0.1:5060", "tcp:[::1]:5061" → ListenPoint; nullopt with `error` set otherwise.
std::optional<sip::transport::ListenPoint> parse_listen(std::string_view text, std::string& error);

// Reads a TOML config file. On error returns nullopt and sets `error` to a message that
// names the file, the line and the option.
std::optional<Config> load_config(const std::filesystem::path& file, std::string& error);

// The defaults, with derived values filled in (listen points, domains).
Config default_config();

}  // namespace herald::app
