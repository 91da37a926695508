// herald: the server and its commands. `herald serve` runs the SIP server; `herald --help`
// lists the commands.

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <boost/asio/signal_set.hpp>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "app/client_command.h"
#include "app/config.h"
#include "app/data_directory.h"
#include "app/presence_command.h"
#include "app/shard.h"
#include "app/user_command.h"
#include "sip/transport/address_text.h"

namespace {

using herald::app::Config;

struct ServeOptions {
  std::string config_file;
  std::string log_level;
  std::vector<std::string> listen;
  std::string data_dir;
  std::string workers;
};

// Shard `index` on its own connection to the store; null (logged) when the store cannot open.
std::unique_ptr<herald::app::Shard> make_shard(const Config& config, std::uint32_t index, herald::sip::Shards& shards,
                                               const herald::services::auth::NonceFactory& nonces,
                                               herald::services::auth::Throttle& throttle, const std::string& key) {
  herald::store::StoreConfig store_config;
  store_config.data_dir = config.data_dir;
  store_config.writer_thread = config.store_thread;
  auto store = herald::store::open_store(store_config);
  if (!store.ok()) {
    spdlog::critical("cannot open the store in {}: {}", config.data_dir.string(), store.status().message());
    return nullptr;
  }
  return std::make_unique<herald::app::Shard>(config, index, shards, std::move(store).value(), nonces, throttle, key);
}

// Opens `shard`'s sockets; false (logged, naming the socket) when one cannot listen. The
// `first` logs where the server listens (the others share its UDP ports).
bool start_shard(herald::app::Shard& shard, bool first) {
  auto& transports = shard.stack().transport().transports();
  if (auto ec = shard.start()) {
    std::string where;
    if (const auto& point = transports.failed_listen_point()) {
      where = std::string(" on ") + std::string(herald::sip::transport::to_string(point->protocol)) + ":";
      herald::sip::transport::append_endpoint(where, point->address, point->port);
    }
    spdlog::critical("cannot listen{}: {}{}", where, ec.message(),
                     ec == boost::asio::error::address_in_use ? " (another herald serve, or another program, has it)"
                                                               : "");
    return false;
  }
  if (!first) return true;
  for (const auto& point : shard.stack().listening()) {
    std::string endpoint;
    herald::sip::transport::append_endpoint(endpoint, point.address, point.port);
    spdlog::info("listening on {}:{}", herald::sip::transport::to_string(point.protocol), endpoint);
  }
  return true;
}

int serve(const ServeOptions& options) {
  Config config;
  if (!options.config_file.empty()) {
    std::string error;
    auto loaded = herald::app::load_config(options.config_file, error);
    if (!loaded) {
      std::fprintf(stderr, "herald: %s\n", error.c_str());
      return 2;
    }
    config = *loaded;
  } else {
    config = herald::app::default_config();
  }
  if (!options.listen.empty()) {
    config.listen.clear();
    for (const std::string& l : options.listen) {
      std::string error;
      auto point = herald::app::parse_listen(l, error);
      if (!point) {
        std::fprintf(stderr, "herald: --listen: %s\n", error.c_str());
        return 2;
      }
      config.listen.push_back(*point);
    }
    if (config.domains_derived) config.domains = {config.listen.front().address.to_string()};
  }
  if (!options.data_dir.empty()) config.data_dir = options.data_dir;
  if (options.workers == "auto") {
    config.workers = herald::app::auto_workers();
  } else if (!options.workers.empty()) {
    config.workers = static_cast<std::uint32_t>(std::stoul(options.workers));  // checked by the option
  }
  if (!options.log_level.empty()) config.log_level = options.log_level;

  spdlog::set_level(spdlog::level::from_str(config.log_level));
  std::string data_error;
  const std::unique_ptr<herald::app::DataDirectory> data_dir = herald::app::DataDirectory::open(config.data_dir, data_error);
  if (!data_dir) {
    spdlog::critical("{}", data_error);
    return 1;
  }

  // One nonce secret for every shard, so a challenge issued by one verifies on another.
  herald::services::auth::NonceFactory nonces(herald::app::unix_now);
  // One throttle for every shard: a source's failures count together whichever shards own the
  // AORs it tries.
  herald::services::auth::Throttle throttle(herald::app::throttle_config(config));
  // How the shards find each other: where a request whose AOR another shard owns is handed.
  herald::sip::Shards shard_set(config.workers);
  // Every shard is made (and has loaded the AORs it owns) before any loop runs: a loop may
  // hand a request to any shard at once.
  std::vector<std::unique_ptr<herald::app::Shard>> shards;
  for (std::uint32_t i = 0; i < config.workers; ++i) {
    auto shard = make_shard(config, i, shard_set, nonces, throttle, data_dir->key());
    if (!shard) return 1;
    shards.push_back(std::move(shard));
  }
  boost::asio::signal_set signals(shards.front()->io(), SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    spdlog::info("signal {}: shutting down", signal);
    for (auto& shard : shards) shard->stop();
  });
  // Each loop runs as soon as its shard listens: a shard's group commit (and so the next
  // shard's first write to the store) waits for its loop.
  std::vector<std::thread> threads;
  bool started = true;
  for (std::uint32_t i = 0; i < config.workers && started; ++i) {
    started = start_shard(*shards[i], i == 0);
    if (started) threads.emplace_back([&shard = *shards[i]] { shard.run(); });
  }
  if (started) {
    std::size_t restored = 0;
    for (const auto& shard : shards) restored += shard->location().binding_count();
    spdlog::info("herald serving with {} worker(s), data directory {}, auth {}, {} binding(s) restored",
                 config.workers, config.data_dir.string(), config.auth, restored);
  } else {
    for (auto& shard : shards) shard->stop();
  }
  for (auto& t : threads) t.join();
  if (!started) return 1;
  spdlog::info("stopped");
  return 0;
}

int run(int argc, char** argv) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("herald"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  CLI::App app{"Herald: SIP registrar, proxy, presence agent and IM relay", "herald"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "herald 0.1.0");
  // Bad usage is one line on stderr, as every other error of the commands.
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return "herald: " + std::string(e.what()) + " (see --help)\n";
  });

  ServeOptions serve_options;
  CLI::App* serve_cmd = app.add_subcommand("serve", "Run the SIP server (defaults: udp+tcp 127.0.0.1:5060, data in ./var)");
  serve_cmd->add_option("-c,--config", serve_options.config_file, "TOML configuration file (see etc/herald.toml)")
      ->check(CLI::ExistingFile);
  serve_cmd->add_option("--log-level", serve_options.log_level, "trace, debug, info, warn, error, critical or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  serve_cmd->add_option("--listen", serve_options.listen,
                        "Listen on PROTOCOL:ADDRESS:PORT (udp or tcp; repeatable; overrides the config)");
  serve_cmd->add_option("--data-dir", serve_options.data_dir, "Data directory (overrides the config)");
  serve_cmd->add_option("--workers", serve_options.workers,
                        "Event loops, one thread each: auto (one per core) or 1 to 256 (overrides the config)")
      ->check(CLI::IsMember({"auto"}) | CLI::Range(1, static_cast<int>(herald::app::kMaxWorkers)));

  std::shared_ptr<int> user_exit_code = herald::app::add_user_commands(app);
  std::shared_ptr<int> presence_exit_code = herald::app::add_presence_commands(app);
  std::shared_ptr<int> client_exit_code = herald::app::add_client_commands(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version end here with 0; bad usage is exit status 2, as shells expect.
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (serve_cmd->parsed()) return serve(serve_options);
  if (*presence_exit_code >= 0) return *presence_exit_code;
  if (*client_exit_code >= 0) return *client_exit_code;
  return *user_exit_code >= 0 ? *user_exit_code : 0;
}

}  // namespace

int main(int argc, char** argv) {
  // What nothing below handled (a full disk while starting, an allocation failing) ends the
  // program with one line, not with std::terminate's abort.
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "herald: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "herald: unknown error\n");
  }
  return 1;
}
