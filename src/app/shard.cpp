#include "app/shard.h"

namespace herald::app {
namespace {

sip::transport::TransportsConfig transports_config(const Config& config) {
  sip::transport::TransportsConfig t;
  t.listen = config.listen;
  t.tcp.max_connections = config.max_tcp_connections;
  t.tcp.connection.idle_timeout = config.tcp_idle_timeout;
  t.tcp.connection.limits.max_header_bytes = config.max_header_bytes;
  t.tcp.connection.limits.max_body_bytes = config.max_message_bytes;
  return t;
}

sip::txn::TransactionLayerConfig layer_config(const Config& config, std::uint32_t index) {
  sip::txn::TransactionLayerConfig c;
  c.timers.t1 = config.t1;
  c.timers.t2 = config.t2;
  c.timers.t4 = config.t4;
  c.shard = index;
  return c;
}

services::registrar::RegistrarConfig registrar_config(const Config& config) {
  services::registrar::RegistrarConfig r;
  r.default_expires = config.default_expires;
  r.min_expires = config.min_expires;
  r.max_expires = config.max_expires;
  r.unknown_user_status = config.unknown_user_status;
  r.domains = config.domains;
  return r;
}

}  // namespace

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

services::Capabilities server_capabilities() {
  services::Capabilities c;
  c.methods = {"OPTIONS", "REGISTER", "ACK", "CANCEL"};
  c.supported = {"path"};
  return c;
}

Shard::Shard(const Config& config, std::uint32_t index, std::unique_ptr<store::Store> store,
             const services::auth::NonceFactory& nonces)
    : io_(1),
      timers_(clock_),
      timer_driver_(io_, timers_),
      store_(std::move(store)),
      location_(timers_, store_.get(), unix_now),
      registrar_(registrar_config(config), location_,
                 [this](std::string_view aor) { return store_->find_user(aor).ok(); }),
      nonce_counts_(unix_now),
      core_(server_capabilities(), config.server_header),
      layer_(timers_, *this, core_, layer_config(config, index)),
      transport_(io_, transports_config(config), *this) {
  if (config.auth == "required") {
    authenticator_ = std::make_unique<services::auth::Authenticator>(
        nonces, nonce_counts_, [this](std::string_view username, std::string_view realm)
            -> std::optional<services::auth::Credentials> {
          auto user = store_->find_user("sip:" + std::string(username) + "@" + std::string(realm));
          if (!user.ok()) return std::nullopt;
          return services::auth::Credentials{user.value().ha1_md5, user.value().ha1_sha256};
        });
    std::vector<services::auth::Algorithm> algorithms;
    for (const std::string& name : config.auth_algorithms) {
      algorithms.push_back(name == "MD5" ? services::auth::Algorithm::kMd5 : services::auth::Algorithm::kSha256);
    }
    authenticator_->set_algorithms(std::move(algorithms));
  }
  core_.attach(layer_);
  core_.serve_register(registrar_, authenticator_.get());
  location_.load();
}

Shard::~Shard() { transport_.close(); }

boost::system::error_code Shard::start() { return transport_.start(); }

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
  transport_.send_response(response, request_source, std::move(done));
}

void Shard::send_request(const sip::Message& request, const sip::transport::Destination& to,
                         sip::txn::SendDone done) {
  transport_.send_request(request, to, std::move(done));
}

}  // namespace herald::app
