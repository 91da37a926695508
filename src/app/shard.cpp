#include "app/shard.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include "sip/stack/owner.h"

namespace herald::app {
namespace {

sip::transport::TransportsConfig transports_config(const Config& config) {
  sip::transport::TransportsConfig t;
  t.listen = config.listen;
  t.tcp.max_connections = config.max_tcp_connections;
  t.tcp.max_connections_per_source = config.max_tcp_connections_per_source;
  t.tcp.trusted = config.trusted;
  t.tcp.connection.idle_timeout = config.tcp_idle_timeout;
  t.tcp.connection.message_timeout = config.tcp_message_timeout;
  t.tcp.connection.unconfirmed_timeout = config.tcp_unconfirmed_timeout;
  t.tcp.connection.limits.max_header_bytes = config.max_header_bytes;
  t.tcp.connection.limits.max_body_bytes = config.max_message_bytes;
  t.budget.rate = config.requests_per_second;
  t.budget.burst = config.request_burst;
  t.budget.trusted = config.trusted;
  return t;
}

sip::StackConfig stack_config(const Config& config, std::uint32_t index, sip::Shards& shards);

// Buckets reserved in the tables that grow with the load (transactions, bindings,
// subscriptions), so that they do not rehash all at once while the loop waits: 1 MiB a
// table, up to 524,288 entries, for the whole process: each of `shards` shards reserves its
// share (at least 1/16 of it), so that 64 cores do not hold 64 times as much before any load.
std::size_t presized_buckets(std::uint32_t shards) {
  constexpr std::size_t kProcess = std::size_t{1} << 17;
  return std::max(kProcess / std::max<std::uint32_t>(shards, 1), kProcess / 16);
}

// How often the users cache reads the store's users generation: `herald user add`, `passwd`
// and `del` take effect within this (as presence rules do, PresenceConfig::rules_poll).
constexpr std::chrono::seconds kUsersPoll{1};

sip::txn::TransactionLayerConfig layer_config(const Config& config, std::uint32_t index, std::uint32_t shards) {
  sip::txn::TransactionLayerConfig c;
  c.timers.t1 = config.t1;
  c.timers.t2 = config.t2;
  c.timers.t4 = config.t4;
  c.shard = index;
  c.presized_buckets = presized_buckets(shards);
  return c;
}

sip::StackConfig stack_config(const Config& config, std::uint32_t index, sip::Shards& shards) {
  sip::StackConfig c;
  c.transports = transports_config(config);
  if (shards.count() > 1) {
    // Every shard has its own UDP socket on each UDP listening point (the others join shard 0's
    // ports, sip::Stack::start); only shard 0 listens on streams.
    c.shards = &shards;
    c.transports.udp_sharing = index == 0 ? sip::transport::UdpSharing::kFirst : sip::transport::UdpSharing::kJoin;
  }
  c.transactions = layer_config(config, index, shards.count());
  c.wildcard_host = config.domains.empty() ? std::string() : config.domains.front();
  c.identity_header = sip::HeaderId::kServer;
  c.identity = config.server_header;
  return c;
}

services::registrar::RegistrarConfig registrar_config(const Config& config) {
  services::registrar::RegistrarConfig r;
  r.default_expires = config.default_expires;
  r.min_expires = config.min_expires;
  r.max_expires = config.max_expires;
  r.unknown_user_status = config.unknown_user_status;
  r.domains = config.domains;
  // 64 x T1 (Timer J), in whole seconds, rounded up.
  r.retransmission_window = (64 * config.t1.count() + 999) / 1000;
  return r;
}

services::proxy::ProxyConfig proxy_config(const Config& config, std::uint32_t index, const std::string& key) {
  services::proxy::ProxyConfig p;
  p.mode = config.proxy_mode == "redirect" ? services::proxy::Mode::kRedirect : services::proxy::Mode::kProxy;
  p.record_route = config.record_route;
  p.relay = config.relay;
  p.timer_c = config.timer_c;
  p.domains = config.domains;
  p.shard = index;
  p.dialog_secret = key;
  p.answer_within = config.im_store ? config.im_answer_within : std::chrono::seconds(0);
  p.hide_unknown_users = config.hide_unknown_users;
  return p;
}

services::im::ImConfig im_config(const Config& config) {
  services::im::ImConfig c;
  c.store = config.im_store;
  c.expiry = config.im_expiry;
  c.max_per_user = config.im_max_per_user;
  c.retry_interval = config.im_retry_interval;
  c.store_from_anyone = config.im_store_from == "anyone";
  c.max_per_sender = config.im_max_per_sender;
  c.max_from_outside = config.im_max_from_outside;
  c.domains = config.domains;
  c.answer_within = config.im_answer_within;
  return c;
}

services::events::NotifierConfig notifier_config(const Config& config) {
  services::events::NotifierConfig c;
  c.default_expires = std::chrono::seconds(config.subscribe_default_expires);
  c.min_expires = std::chrono::seconds(config.subscribe_min_expires);
  c.max_expires = std::chrono::seconds(config.subscribe_max_expires);
  c.max_per_resource = config.max_watchers;
  c.max_per_watcher = config.max_subscriptions_per_watcher;
  c.max_per_source = config.max_subscriptions_per_source;
  c.max_pending_per_resource = config.max_pending;
  c.pending_expires = std::chrono::seconds(config.pending_expires);
  c.trusted = config.trusted;
  return c;
}

services::presence::PresenceConfig presence_config(const Config& config) {
  using services::presence::parse_action;
  services::presence::PresenceConfig c;
  c.publish_default_expires = std::chrono::seconds(config.publish_default_expires);
  c.publish_min_expires = std::chrono::seconds(config.publish_min_expires);
  c.publish_max_expires = std::chrono::seconds(config.publish_max_expires);
  c.registration_state = config.registration_state;
  c.max_document_bytes = config.max_document_bytes;
  c.document_limits.max_depth = config.max_document_depth;
  c.document_limits.max_elements = config.max_document_elements;
  c.max_publications = config.max_publications;
  c.hide_unknown_users = config.hide_unknown_users;
  // load_config() admits only the four actions.
  c.policy.same_domain = parse_action(config.same_domain).value_or(c.policy.same_domain);
  c.policy.other_domains = parse_action(config.other_domains).value_or(c.policy.other_domains);
  return c;
}

}  // namespace

services::auth::ThrottleConfig throttle_config(const Config& config) {
  services::auth::ThrottleConfig t;
  t.source_failures = config.source_failures;
  t.account_failures = config.account_failures;
  t.window = config.failure_window;
  t.backoff = config.backoff;
  t.max_backoff = config.max_backoff;
  t.trusted = config.trusted;
  return t;
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

services::Capabilities server_capabilities() {
  services::Capabilities c;
  c.methods = {"OPTIONS", "REGISTER", "ACK", "CANCEL", "SUBSCRIBE", "PUBLISH"};
  c.accept = {"application/pidf+xml", "application/cpim-pidf+xml"};
  c.supported = {"path"};
  return c;
}

Shard::Shard(const Config& config, std::uint32_t index, sip::Shards& shards, std::unique_ptr<store::Store> store,
             const services::auth::NonceFactory& nonces, services::auth::Throttle& throttle,
             const std::string& server_key)
    : io_(1),
      store_(std::move(store)),
      users_(*store_),
      core_(server_capabilities(), stack_),
      stack_(io_, stack_config(config, index, shards), core_),
      location_(stack_.timers(), store_.get(), unix_now),
      registrar_(registrar_config(config), location_,
                 [this](std::string_view aor) { return users_.find(aor) != nullptr; }),
      nonce_counts_(unix_now),
      throttle_(throttle),
      proxy_(proxy_config(config, index, server_key), stack_.transactions(), stack_.timers(), location_, stack_,
             [this](const std::string& aor) { return users_.find(aor) != nullptr; },
             sip::transport::HostsFile::load(config.hosts_file)),
      messages_(im_config(config), proxy_, location_, store_.get(), stack_.timers(), unix_now, stack_),
      notifier_(notifier_config(config), stack_.transactions(), stack_.timers(), stack_,
                sip::transport::HostsFile::load(config.hosts_file), store_.get(), unix_now),
      presence_(presence_config(config), notifier_, location_, store_.get(), store_.get(), stack_.timers(), unix_now,
                stack_, [this](const std::string& aor) { return users_.find(aor) != nullptr; }) {
  shards.attach(index, stack_, io_);
  if (config.auth == "required") {
    authenticator_ = std::make_unique<services::auth::Authenticator>(
        nonces, nonce_counts_, [this](std::string_view username, std::string_view realm)
            -> std::optional<services::auth::Credentials> {
          const store::User* user = users_.find("sip:" + std::string(username) + "@" + std::string(realm));
          if (user == nullptr) return std::nullopt;
          return services::auth::Credentials{user->ha1_md5, user->ha1_sha256};
        });
    std::vector<services::auth::Algorithm> algorithms;
    for (const std::string& name : config.auth_algorithms) {
      algorithms.push_back(name == "MD5" ? services::auth::Algorithm::kMd5 : services::auth::Algorithm::kSha256);
    }
    authenticator_->set_algorithms(std::move(algorithms));
    authenticator_->set_throttle(&throttle_);
  }
  core_.attach(stack_.transactions());
  core_.protect(throttle_);
  auto unknown_user = [this](const sip::transport::Source& source) {
    throttle_.failed(source.remote_address, {}, services::auth::Failure::kUnknownUser);
  };
  proxy_.set_unknown_user_reporter(unknown_user);
  notifier_.set_unknown_resource_reporter(unknown_user);
  core_.serve_register(registrar_, authenticator_.get());
  core_.serve_proxy(proxy_);
  core_.serve_events(notifier_, presence_);
  proxy_.set_hooks(&messages_);
  if (shards.count() > 1) {
    // Each shard restores the AORs it owns; the others, the rest.
    sip::OwnedAor owned = [count = shards.count(), index](std::string_view aor) {
      return sip::owner_of(sip::slot_of(aor), count) == index;
    };
    location_.share(owned, shards.count(), index);
    notifier_.own(owned);
    presence_.own(owned);
    messages_.own(owned);
  }
  location_.presize(presized_buckets(shards.count()));
  notifier_.presize(presized_buckets(shards.count()));
  location_.load();
}

Shard::~Shard() {
  if (auto s = store_->wait_durable(); !s.ok()) spdlog::error("store: a batch of writes was lost: {}", s.message());
  stack_.release(store_->batches_durable());
  stack_.close();
}

boost::system::error_code Shard::start() {
  boost::system::error_code ec = stack_.start();
  if (ec) return ec;
  // Group commit: the writes made while the handlers already due run share one transaction,
  // committed right after them; what is sent meanwhile waits for it (sip::WriteBatches). Set
  // before the services start, so that what they send at start (a restored subscription's
  // final NOTIFY) waits for what they wrote.
  stack_.gate_sends(this);
  store_->batch_writes([this] { boost::asio::post(io_, [this] { commit(); }); });
  // A write-behind store says when its writer thread has made a batch durable.
  store_->on_durable([this] { boost::asio::post(io_, [this] { stack_.release(store_->batches_durable()); }); });
  poll_users();
  messages_.start();
  presence_.start();
  notifier_.start();
  return ec;
}

void Shard::poll_users() {
  users_timer_ = stack_.timers().schedule_after(kUsersPoll, [this] { poll_users(); });
  users_.poll();
}

void Shard::commit() {
  if (auto s = store_->commit_batch(); !s.ok()) spdlog::error("store: a batch of writes was lost: {}", s.message());
  stack_.release(store_->batches_durable());
}

void Shard::run() {
  auto guard = boost::asio::make_work_guard(io_);
  io_.run();
}

void Shard::stop() { io_.stop(); }

}  // namespace herald::app
