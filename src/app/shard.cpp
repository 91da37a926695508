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

}  // namespace

services::Capabilities server_capabilities() {
  services::Capabilities c;
  c.methods = {"OPTIONS", "ACK", "CANCEL"};
  return c;
}

Shard::Shard(const Config& config, std::uint32_t index)
    : io_(1),
      timers_(clock_),
      timer_driver_(io_, timers_),
      core_(server_capabilities(), config.server_header),
      layer_(timers_, *this, core_, layer_config(config, index)),
      transport_(io_, transports_config(config), *this) {
  core_.attach(layer_);
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
