#include "client/user_agent.h"

#include <fmt/format.h>

#include <boost/asio/ip/udp.hpp>

#include "sip/msg/dialog_request.h"
#include "sip/msg/headers.h"

namespace herald::client {
namespace {

using sip::HeaderId;
using sip::transport::Protocol;

// The local address the kernel would send from to reach the server: connecting a UDP socket
// sends nothing, it only picks the route. Loopback when that fails.
boost::asio::ip::address local_address_for(const UserAgentConfig& config) {
  boost::asio::io_context io;
  boost::system::error_code ec;
  boost::asio::ip::udp::socket probe(io);
  const boost::asio::ip::udp::endpoint server(config.server_address, config.server_port);
  probe.open(server.protocol(), ec);
  if (!ec) probe.connect(server, ec);
  if (!ec) {
    auto local = probe.local_endpoint(ec);
    if (!ec) return local.address();
  }
  if (config.server_address.is_v6()) return boost::asio::ip::address_v6::loopback();
  return boost::asio::ip::address_v4::loopback();
}

sip::StackConfig stack_config(const boost::asio::ip::address& local, const std::string& user_agent) {
  sip::StackConfig c;
  c.transports.listen = {{Protocol::kUdp, local, 0}, {Protocol::kTcp, local, 0}};
  // A registered client keeps its connection for as long as it runs (RFC 5626 flows).
  c.transports.tcp.connection.idle_timeout = std::chrono::hours(24);
  // A client talks to its server: no per-source budget or connection cap against it (a
  // fan-out of NOTIFYs comes in bursts).
  c.transports.budget.rate = 0;
  c.transports.tcp.max_connections_per_source = 0;
  c.identity_header = HeaderId::kUserAgent;
  c.identity = user_agent;
  return c;
}

std::string host_text(const boost::asio::ip::address& address) {
  return address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
}

// The user part of a "sip:user@host" AOR.
std::string_view user_of(std::string_view aor) {
  if (aor.starts_with("sip:")) aor.remove_prefix(4);
  return aor.substr(0, aor.find('@'));
}

}  // namespace

UserAgent::UserAgent(boost::asio::io_context& io, UserAgentConfig config)
    : config_(std::move(config)),
      local_address_(local_address_for(config_)),
      stack_(io, stack_config(local_address_, config_.user_agent), *this),
      random_(std::random_device{}()) {}

UserAgent::~UserAgent() { stack_.close(); }

boost::system::error_code UserAgent::start() { return stack_.start(); }

void UserAgent::close() { stack_.close(); }

std::string UserAgent::server_text() const {
  return host_text(config_.server_address) + ":" + std::to_string(config_.server_port);
}

std::string UserAgent::contact_uri() const {
  return fmt::format("sip:{}@{}{}", user_of(config_.aor), stack_.sent_by(config_.protocol),
                     sip::transport::uri_transport_param(config_.protocol));
}

std::string UserAgent::random_hex(std::size_t digits) {
  std::string out;
  while (out.size() < digits) out += fmt::format("{:016x}", random_());
  out.resize(digits);
  return out;
}

Leg UserAgent::new_leg(std::string_view remote_uri) {
  Leg leg;
  leg.call_id = random_hex(24);
  leg.local_uri = config_.aor;
  leg.local_tag = random_hex(12);
  leg.remote_uri = std::string(remote_uri);
  leg.target = std::string(remote_uri);
  return leg;
}

sip::Message UserAgent::new_request(std::string_view method, Leg& leg) {
  sip::DialogView dialog;
  dialog.call_id = leg.call_id;
  dialog.local_uri = leg.local_uri;
  dialog.local_tag = leg.local_tag;
  dialog.remote_uri = leg.remote_uri;
  dialog.remote_tag = leg.remote_tag;
  dialog.remote_target = leg.target;
  dialog.route_set = &leg.route_set;
  sip::Message m = sip::dialog_request(method, dialog, ++leg.cseq);
  m.append(HeaderId::kUserAgent, config_.user_agent);
  m.append(HeaderId::kContentLength, "0");
  return m;
}

void UserAgent::send(sip::Message request, Completion done) {
  add_cached_credentials(request);
  const std::uint64_t id = next_pending_++;
  Pending& p = pending_[id];
  p.request = std::move(request);
  p.done = std::move(done);
  transmit(id);
}

void UserAgent::transmit(std::uint64_t pending_id) {
  Pending& p = pending_.at(pending_id);
  timers().cancel(p.deadline);
  p.deadline = timers().schedule_after(config_.timeout, [this, pending_id] {
    Outcome o;
    o.kind = Outcome::Kind::kTimeout;
    finish(pending_id, std::move(o));
  });
  sip::Message m = p.request;
  m.prepend(HeaderId::kVia, stack_.via(config_.protocol, stack_.transactions().new_branch()));
  sip::txn::ClientCallbacks callbacks;
  callbacks.on_response = [this, pending_id](const sip::Message& response) {
    if (response.status_code() < 200) return;
    Outcome o;
    o.kind = Outcome::Kind::kResponse;
    o.response = response;
    on_final(pending_id, std::move(o));
  };
  callbacks.on_timeout = [this, pending_id] {
    Outcome o;
    o.kind = Outcome::Kind::kTimeout;
    finish(pending_id, std::move(o));
  };
  callbacks.on_transport_error = [this, pending_id](const boost::system::error_code& ec) {
    Outcome o;
    o.kind = Outcome::Kind::kTransportError;
    o.error = ec.message();
    finish(pending_id, std::move(o));
  };
  const sip::transport::Destination to{config_.protocol, config_.server_address, config_.server_port, std::nullopt};
  if (stack_.transactions().send_request(m, to, std::move(callbacks)) == 0) {
    Outcome o;
    o.kind = Outcome::Kind::kTransportError;
    o.error = "the request could not be sent";
    finish(pending_id, std::move(o));
  }
}

void UserAgent::on_final(std::uint64_t pending_id, Outcome outcome) {
  auto it = pending_.find(pending_id);
  if (it == pending_.end()) return;  // already finished (deadline)
  Pending& p = it->second;
  const int code = outcome.response.status_code();
  if ((code == 401 || code == 407) && !p.answered) {
    bool no_password = false;
    if (answer_challenge(p.request, outcome.response, no_password)) {
      p.answered = true;
      transmit(pending_id);
      return;
    }
    outcome.no_password = no_password;
    outcome.auth_failed = true;
  } else if (code == 401 || code == 407) {
    outcome.auth_failed = true;
  }
  finish(pending_id, std::move(outcome));
}

void UserAgent::finish(std::uint64_t pending_id, Outcome outcome) {
  auto it = pending_.find(pending_id);
  if (it == pending_.end()) return;
  timers().cancel(it->second.deadline);
  Completion done = std::move(it->second.done);
  auto cseq = it->second.request.get<sip::hdr::CSeq>();
  outcome.cseq = cseq.ok() ? cseq->number : 0;
  pending_.erase(it);
  if (done) done(outcome);
}

bool UserAgent::answer_challenge(sip::Message& request, const sip::Message& challenge_response, bool& no_password) {
  auto challenge = pick_challenge(challenge_response);
  if (!challenge) return false;
  if (!password_asked_) {
    password_asked_ = true;
    if (config_.password) password_ = config_.password();
  }
  if (!password_) {
    no_password = true;
    return false;
  }
  std::optional<DigestChallenge>& cached = challenge->proxy ? proxy_challenge_ : www_challenge_;
  cached = std::move(challenge);
  // RFC 3261 §22.2: the retry has the same Call-ID and the next CSeq.
  auto cseq = request.get<sip::hdr::CSeq>();
  if (cseq.ok()) {
    request.set(HeaderId::kCSeq, fmt::format("{} {}", cseq->number + 1, request.method_name()));
  }
  add_credentials(request, *cached);
  return true;
}

void UserAgent::add_cached_credentials(sip::Message& request) {
  // A REGISTER is challenged by the registrar (401), anything else by the proxy (407).
  std::optional<DigestChallenge>& cached =
      request.method() == sip::Method::kRegister ? www_challenge_ : proxy_challenge_;
  if (cached && password_) add_credentials(request, *cached);
}

void UserAgent::add_credentials(sip::Message& request, DigestChallenge& challenge) {
  const HeaderId header = challenge.proxy ? HeaderId::kProxyAuthorization : HeaderId::kAuthorization;
  request.remove(header);
  request.append(header, credentials(challenge, config_.username, *password_, request.method_name(),
                                     request.request_uri_text(), ++challenge.nonce_count, random_hex(16)));
}

std::uint64_t UserAgent::add_handler(RequestHandler handler) {
  const std::uint64_t id = next_handler_++;
  handlers_.emplace_back(id, std::move(handler));
  return id;
}

void UserAgent::remove_handler(std::uint64_t handler_id) {
  std::erase_if(handlers_, [&](const auto& h) { return h.first == handler_id; });
}

void UserAgent::respond(sip::txn::ServerTransactionId id, const sip::Message& request, int code,
                        std::string_view reason, const std::vector<std::pair<HeaderId, std::string>>& extra,
                        std::string_view to_tag) {
  stack_.respond(id, request, code, reason, extra, to_tag);
}

void UserAgent::on_request(sip::txn::ServerTransactionId id, const sip::Message& request,
                           const sip::transport::Source& /*source*/) {
  // A handler may add or remove handlers: walk a copy.
  const auto handlers = handlers_;
  for (const auto& [handler_id, handler] : handlers) {
    if (handler(id, request)) return;
  }
  static constexpr std::string_view kAllow = "OPTIONS, MESSAGE, NOTIFY";
  switch (request.method()) {
    case sip::Method::kOptions:
      respond(id, request, 200, "OK", {{HeaderId::kAllow, std::string(kAllow)}});
      break;
    case sip::Method::kNotify:
      respond(id, request, 481, "Subscription Does Not Exist");
      break;
    case sip::Method::kCancel:
      respond(id, request, 481, "Call/Transaction Does Not Exist");
      break;
    default:
      respond(id, request, 405, "Method Not Allowed", {{HeaderId::kAllow, std::string(kAllow)}});
      break;
  }
}

}  // namespace herald::client
