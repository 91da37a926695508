#include "app/shard.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

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

// Buckets reserved in the tables that grow with the load (transactions, bindings,
// subscriptions), so that they do not rehash all at once while the loop waits: 1 MiB a
// table, up to 524,288 entries.
constexpr std::size_t kPresizedBuckets = std::size_t{1} << 17;

// How often the users cache reads the store's users generation: `herald user add`, `passwd`
// and `del` take effect within this (as presence rules do, PresenceConfig::rules_poll).
constexpr std::chrono::seconds kUsersPoll{1};

sip::txn::TransactionLayerConfig layer_config(const Config& config, std::uint32_t index) {
  sip::txn::TransactionLayerConfig c;
  c.timers.t1 = config.t1;
  c.timers.t2 = config.t2;
  c.timers.t4 = config.t4;
  c.shard = index;
  c.presized_buckets = kPresizedBuckets;
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

Shard::Shard(const Config& config, std::uint32_t index, std::unique_ptr<store::Store> store,
             const services::auth::NonceFactory& nonces, const std::string& server_key)
    : io_(1),
      timers_(clock_),
      timer_driver_(io_, timers_),
      store_(std::move(store)),
      users_(*store_),
      location_(timers_, store_.get(), unix_now),
      registrar_(registrar_config(config), location_,
                 [this](std::string_view aor) { return users_.find(aor) != nullptr; }),
      nonce_counts_(unix_now),
      throttle_(throttle_config(config)),
      core_(server_capabilities(), config.server_header),
      layer_(timers_, *this, core_, layer_config(config, index)),
      transport_(io_, transports_config(config), *this),
      proxy_(proxy_config(config, index, server_key), layer_, timers_, location_, *this,
             [this](const std::string& aor) { return users_.find(aor) != nullptr; },
             sip::transport::HostsFile::load(config.hosts_file)),
      messages_(im_config(config), proxy_, location_, store_.get(), timers_, unix_now,
                [this](sip::txn::ServerTransactionId id, const sip::Message& request, int code, std::string_view reason,
                       const std::vector<std::pair<sip::HeaderId, std::string>>& extra) {
                  core_.respond(id, request, code, reason, extra);
                }),
      notifier_(notifier_config(config), layer_, timers_, *this, sip::transport::HostsFile::load(config.hosts_file),
                store_.get(), unix_now,
                [this](sip::txn::ServerTransactionId id, const sip::Message& request, int code, std::string_view reason,
                       const std::vector<std::pair<sip::HeaderId, std::string>>& extra, std::string_view to_tag) {
                  core_.respond(id, request, code, reason, extra, to_tag);
                }),
      presence_(presence_config(config), notifier_, location_, store_.get(), store_.get(), timers_, unix_now,
                [this](sip::txn::ServerTransactionId id, const sip::Message& request, int code, std::string_view reason,
                       const std::vector<std::pair<sip::HeaderId, std::string>>& extra, std::string_view to_tag) {
                  core_.respond(id, request, code, reason, extra, to_tag);
                },
                [this](const std::string& aor) { return users_.find(aor) != nullptr; }),
      first_domain_(config.domains.empty() ? std::string() : config.domains.front()) {
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
  core_.attach(layer_);
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
  location_.presize(kPresizedBuckets);
  notifier_.presize(kPresizedBuckets);
  location_.load();
}

Shard::~Shard() {
  if (auto s = store_->wait_durable(); !s.ok()) spdlog::error("store: a batch of writes was lost: {}", s.message());
  release(store_->batches_durable());
  transport_.close();
}

boost::system::error_code Shard::start() {
  boost::system::error_code ec = transport_.start();
  if (ec) return ec;
  note_listening();
  // Group commit: the writes made while the handlers already due run share one transaction,
  // committed right after them; what is sent meanwhile waits for it (see hold()). Set before
  // the services start, so that what they send at start (a restored subscription's final
  // NOTIFY) waits for what they wrote.
  store_->batch_writes([this] { boost::asio::post(io_, [this] { commit(); }); });
  // A write-behind store says when its writer thread has made a batch durable.
  store_->on_durable([this] { boost::asio::post(io_, [this] { release(store_->batches_durable()); }); });
  poll_users();
  messages_.start();
  presence_.start();
  notifier_.start();
  return ec;
}

void Shard::poll_users() {
  users_timer_ = timers_.schedule_after(kUsersPoll, [this] { poll_users(); });
  users_.poll();
}

void Shard::commit() {
  if (auto s = store_->commit_batch(); !s.ok()) spdlog::error("store: a batch of writes was lost: {}", s.message());
  release(store_->batches_durable());
}

bool Shard::must_hold() const {
  // Also behind what is held already: sends leave in the order they were made (a stored
  // MESSAGE is delivered after the 200 to the REGISTER that brought its recipient back).
  return store_->batch_open() || !held_.empty();
}

void Shard::hold(std::function<void()> send) { held_.push_back({store_->batches_begun(), std::move(send)}); }

void Shard::release(std::uint64_t durable) {
  // Held in order of their batches; a send may hold another (it runs after the loop).
  std::size_t n = 0;
  while (n < held_.size() && held_[n].batch <= durable) ++n;
  if (n == 0) return;
  std::vector<Held> ready;
  if (n == held_.size()) {
    ready.swap(held_);  // the common case: everything was waiting for this batch
  } else {
    ready.assign(std::make_move_iterator(held_.begin()), std::make_move_iterator(held_.begin() + n));
    held_.erase(held_.begin(), held_.begin() + n);
  }
  for (Held& h : ready) h.send();
}

void Shard::run() {
  auto guard = boost::asio::make_work_guard(io_);
  io_.run();
}

void Shard::stop() { io_.stop(); }

void Shard::on_request(const sip::Message& request, const sip::transport::Source& source) {
  layer_.receive(request, source);
}

void Shard::on_response(const sip::Message& response, const sip::transport::Source& source) {
  layer_.receive(response, source);
}

void Shard::send_response(const sip::Message& response, const sip::transport::Source& request_source,
                          sip::txn::SendDone done) {
  if (must_hold()) {
    hold([this, response, request_source, done = std::move(done)]() mutable {
      transport_.send_response(response, request_source, std::move(done));
    });
    return;
  }
  transport_.send_response(response, request_source, std::move(done));
}

void Shard::send_request(const sip::Message& request, const sip::transport::Destination& to,
                         sip::txn::SendDone done) {
  if (must_hold()) {
    hold([this, request, to, done = std::move(done)]() mutable {
      transport_.send_request(request, to, std::move(done));
    });
    return;
  }
  transport_.send_request(request, to, std::move(done));
}

}  // namespace herald::app

namespace herald::app {

std::string Shard::sent_by(sip::transport::Protocol protocol) const {
  for (const auto& [p, text] : sent_by_) {
    if (p == protocol) return text;
  }
  return {};
}

void Shard::note_listening() {
  listening_ = transport_.transports().listening();
  // Written once: every NOTIFY and every relayed request asks (inet_ntop and the string
  // were 4 % of a fan-out's loop time, per NOTIFY).
  sent_by_.clear();
  for (const sip::transport::ListenPoint& p : listening_) {
    if (std::any_of(sent_by_.begin(), sent_by_.end(), [&](const auto& known) { return known.first == p.protocol; })) {
      continue;  // the first listening point of a protocol names it
    }
    std::string host = p.address.is_unspecified() ? first_domain_ : p.address.to_string();
    if (p.address.is_v6() && !p.address.is_unspecified()) host.insert(0, 1, '[').push_back(']');
    sent_by_.emplace_back(p.protocol, host + ":" + std::to_string(p.port));
  }
}

bool Shard::listens_on(const boost::asio::ip::address& address, std::uint16_t port) const {
  return std::any_of(listening_.begin(), listening_.end(), [&](const sip::transport::ListenPoint& p) {
    return p.port == port && (p.address == address || p.address.is_unspecified());
  });
}

bool Shard::listens_on_port(std::uint16_t port) const {
  return std::any_of(listening_.begin(), listening_.end(),
                     [&](const sip::transport::ListenPoint& p) { return p.port == port; });
}

bool Shard::connection_open(const boost::asio::ip::address& address, std::uint16_t port) const {
  return transport_.transports().tcp().find(boost::asio::ip::tcp::endpoint(address, port)).has_value();
}

void Shard::send_stateless(const sip::Message& request, const sip::transport::Destination& to) {
  send_request(request, to, {});
}

void Shard::send_response_by_via(const sip::Message& response) {
  // RFC 3261 §18.2.2: the address in received (or the sent-by host), the rport or sent-by port.
  auto via = response.get<sip::hdr::Via>();
  if (!via.ok()) return;
  sip::transport::Source source;
  source.protocol = sip::grammar::iequals(via->transport, "TCP") ? sip::transport::Protocol::kTcp
                                                                 : sip::transport::Protocol::kUdp;
  boost::system::error_code ec;
  std::string host(via->received().value_or(via->host));
  source.remote_address = boost::asio::ip::make_address(host, ec);
  if (ec) return;  // a name: not resolved here
  auto rport = via->rport();
  auto port = rport && !rport->empty() ? sip::grammar::parse_uint(*rport, 65535) : std::nullopt;
  source.remote_port = static_cast<std::uint16_t>(port.value_or(via->port != 0 ? via->port : 5060));
  send_response(response, source, {});
}

}  // namespace herald::app
