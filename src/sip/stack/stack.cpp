#include "sip/stack/stack.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <iterator>

#include "sip/msg/grammar.h"
#include "sip/stack/owner.h"

namespace herald::sip {
namespace {

std::string_view call_id_of(const Message& m) {
  const HeaderField* f = m.find(HeaderId::kCallId);
  return f ? f->value : std::string_view("-");
}

}  // namespace

Stack::Stack(boost::asio::io_context& io, StackConfig config, txn::TransactionUser& user)
    : config_(std::move(config)),
      io_(io),
      timers_(clock_),
      timer_driver_(io, timers_),
      layer_(timers_, *this, user, config_.transactions),
      transport_(io, config_.transports, *this),
      random_(std::random_device{}()) {}

Stack::~Stack() { transport_.close(); }

boost::system::error_code Stack::start() {
  if (sharded() && index() != 0) {
    // Shard 0's UDP ports, as it bound them (port 0 picks one once); streams are its alone.
    std::vector<transport::ListenPoint> udp;
    for (const transport::ListenPoint& p : config_.shards->stack(0).listening()) {
      if (!transport::kind_of(p.protocol).stream) udp.push_back(p);
    }
    transport_.transports().listen_on(std::move(udp));
  }
  boost::system::error_code ec = transport_.start();
  if (!ec) note_listening();
  return ec;
}

void Stack::close() {
  held_.clear();
  transport_.close();
}

std::string Stack::new_tag() { return fmt::format("{:016x}", random_()); }

// ---- answering requests

void Stack::respond(const Reply& to, const Message& request, int code, std::string_view reason,
                    const ExtraHeaders& extra, std::string_view to_tag) {
  std::string tag;
  if (code > 100) tag = !to_tag.empty() ? std::string(to_tag) : !to.to_tag().empty() ? std::string(to.to_tag()) : new_tag();
  respond_with(to, request, response_for(request, code, reason, extra, tag));
}

void Stack::respond_with(const Reply& to, const Message& request, Message response, bool routine) {
  const int code = response.status_code();
  // The identity goes before Content-Length, which stays last where readers of a trace expect it.
  if (!config_.identity.empty()) {
    response.remove(HeaderId::kContentLength);
    response.append(config_.identity_header, config_.identity);
    response.append(HeaderId::kContentLength, std::to_string(response.body().size()));
  }
  ++responses_.by_class[std::clamp(code / 100, 1, 6)];
  if (code >= 300 && code != 401 && code != 407 && !routine) {  // challenges are routine: debug only
    const std::string_view reason = response.reason_phrase();
    spdlog::info("call-id={} {} {} -> {} {}", call_id_of(request), request.method_name(), request.request_uri_text(),
                 code, reason.empty() ? default_reason(code) : reason);
  } else {
    spdlog::debug("call-id={} {} {} -> {}", call_id_of(request), request.method_name(), request.request_uri_text(), code);
  }
  if (const transport::Source* source = to.stateless_source()) {
    layer_.send_stateless(response, *source);
    return;
  }
  layer_.respond(to.id(), response);
}

// ---- up: transport -> transaction layer

void Stack::on_request(const Message& request, const transport::Source& source) {
  if (const std::uint32_t owner = owner_of_request(request); owner != index()) {
    hand_over(owner, request, source);
    return;
  }
  layer_.receive(request, source);
}

void Stack::on_response(const Message& response, const transport::Source& source) {
  if (const std::uint32_t owner = owner_of_response(response); owner != index()) {
    hand_over(owner, response, source);
    return;
  }
  layer_.receive(response, source);
}

std::uint32_t Stack::owner_of_request(const Message& request) const {
  if (!sharded()) return index();
  return owner_of(request_slot(request), config_.shards->count());
}

std::uint32_t Stack::owner_of_response(const Message& response) const {
  if (!sharded()) return index();
  // The client transaction is on the shard its branch names (TransactionLayer::new_branch).
  auto via = response.get<hdr::Via>();
  if (!via.ok()) return index();
  auto branch = via->branch();
  auto shard = branch ? txn::TransactionLayer::shard_of_branch(*branch) : std::nullopt;
  return shard && *shard < config_.shards->count() ? *shard : index();
}

void Stack::hand_over(std::uint32_t owner, const Message& message, const transport::Source& source) {
  // The copy shares the received text with `message`, which this shard drops unedited once
  // this call returns: the owner is then the only one to edit it.
  if (spdlog::should_log(spdlog::level::debug)) {
    const HeaderField* call_id = message.find(HeaderId::kCallId);
    spdlog::debug("call-id={} {} handed to shard {}", call_id ? call_id->value : "-",
                  message.is_request() ? message.method_name() : "response", owner);
  }
  Stack* target = &config_.shards->stack(owner);
  config_.shards->post(owner, [target, message, source] { target->layer_.receive(message, source); });
}

// ---- down: transaction layer -> gate -> transport

bool Stack::must_hold() const {
  // Also behind what is held already: sends leave in the order they were made (a stored
  // MESSAGE is delivered after the 200 to the REGISTER that brought its recipient back).
  return batches_ != nullptr && (batches_->open() || !held_.empty());
}

void Stack::send_response(const Message& response, const transport::Source& request_source, txn::SendDone done) {
  if (must_hold()) {
    held_.push_back({batches_->begun(), [this, response, request_source, done = std::move(done)]() mutable {
                       dispatch_response(response, request_source, std::move(done));
                     }});
    return;
  }
  dispatch_response(response, request_source, std::move(done));
}

void Stack::send_request(const Message& request, const transport::Destination& to, txn::SendDone done) {
  if (must_hold()) {
    held_.push_back({batches_->begun(), [this, request, to, done = std::move(done)]() mutable {
                       dispatch_request(request, to, std::move(done));
                     }});
    return;
  }
  dispatch_request(request, to, std::move(done));
}

void Stack::dispatch_response(const Message& response, const transport::Source& request_source, txn::SendDone done) {
  if (!sharded() || index() == Shards::kStreamShard || !transport::kind_of(request_source.protocol).stream) {
    transport_.send_response(response, request_source, std::move(done));
    return;
  }
  auto via = response.get<hdr::Via>();
  const transport::Destination to = via.ok() ? transport::response_destination(*via, request_source)
                                             : transport::Destination::reply_to(request_source);
  send_from_stream_shard(to, serialize(response), std::move(done));
}

void Stack::dispatch_request(const Message& request, const transport::Destination& to, txn::SendDone done) {
  if (!sharded() || index() == Shards::kStreamShard || !transport::kind_of(to.protocol).stream) {
    transport_.send_request(request, to, std::move(done));
    return;
  }
  send_from_stream_shard(to, serialize(request), std::move(done));
}

void Stack::send_from_stream_shard(const transport::Destination& to, std::string bytes, txn::SendDone done) {
  Shards* shards = config_.shards;
  const std::uint32_t origin = index();
  Stack* stream = &shards->stack(Shards::kStreamShard);
  shards->post(Shards::kStreamShard, [stream, shards, origin, to, bytes = std::move(bytes),
                                      done = std::move(done)]() mutable {
    stream->transport_.transports().send(to, std::move(bytes), [shards, origin, done = std::move(done)](
                                                                   const boost::system::error_code& ec) {
      if (done) shards->post(origin, [done, ec] { done(ec); });
    });
  });
}

void Stack::release(std::uint64_t durable) {
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

void Stack::send_stateless(const Message& request, const transport::Destination& to) { send_request(request, to, {}); }

void Stack::send_response_by_via(const Message& response) {
  // RFC 3261 §18.2.2: the address in received (or the sent-by host), the rport or sent-by port.
  auto via = response.get<hdr::Via>();
  if (!via.ok()) return;
  transport::Source source;
  source.protocol = transport::protocol_of_via(via->transport).value_or(transport::Protocol::kUdp);
  boost::system::error_code ec;
  const std::string host(via->received().value_or(via->host));
  source.remote_address = boost::asio::ip::make_address(host, ec);
  if (ec) return;  // a name: not resolved here
  auto rport = via->rport();
  auto port = rport && !rport->empty() ? grammar::parse_uint(*rport, 65535) : std::nullopt;
  source.remote_port = static_cast<std::uint16_t>(port.value_or(via->port != 0 ? via->port : 5060));
  send_response(response, source, {});
}

// ---- where Herald listens

void Stack::note_listening() {
  // The other shards listen on shard 0's UDP ports, and only it on streams: all name
  // themselves by its listening points.
  listening_ = sharded() && index() != 0 ? config_.shards->stack(0).listening() : transport_.transports().listening();
  // Written once: every NOTIFY and every relayed request asks (inet_ntop and the string
  // were 4 % of a fan-out's loop time, per NOTIFY).
  sent_by_.clear();
  for (const transport::ListenPoint& p : listening_) {
    if (std::any_of(sent_by_.begin(), sent_by_.end(), [&](const auto& known) { return known.first == p.protocol; })) {
      continue;  // the first listening point of a protocol names it
    }
    std::string host = p.address.is_unspecified() ? config_.wildcard_host : p.address.to_string();
    if (p.address.is_v6() && !p.address.is_unspecified()) host.insert(0, 1, '[').push_back(']');
    sent_by_.emplace_back(p.protocol, host + ":" + std::to_string(p.port));
  }
}

std::string Stack::sent_by(transport::Protocol protocol) const {
  for (const auto& [p, text] : sent_by_) {
    if (p == protocol) return text;
  }
  return {};
}

bool Stack::listens_on(const boost::asio::ip::address& address, std::uint16_t port) const {
  return std::any_of(listening_.begin(), listening_.end(), [&](const transport::ListenPoint& p) {
    return p.port == port && (p.address == address || p.address.is_unspecified());
  });
}

bool Stack::listens_on_port(std::uint16_t port) const {
  return std::any_of(listening_.begin(), listening_.end(), [&](const transport::ListenPoint& p) { return p.port == port; });
}

bool Stack::connection_open(const boost::asio::ip::address& address, std::uint16_t port) const {
  const boost::asio::ip::tcp::endpoint remote(address, port);
  if (sharded() && index() != Shards::kStreamShard) {
    return config_.shards->stack(Shards::kStreamShard).transport_.transports().tcp().connected_to(remote);
  }
  return transport_.transports().tcp().find(remote).has_value();
}

}  // namespace herald::sip
