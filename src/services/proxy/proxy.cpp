#include "services/proxy/proxy.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>
#include <random>
#include <utility>

#include "services/proxy/flow.h"
#include "sip/msg/grammar.h"

namespace herald::services::proxy {
namespace {

using sip::HeaderId;
using sip::Message;
using sip::Method;
using sip::transport::Destination;
using sip::transport::Protocol;

// RFC 3428 §5 / RFC 3261 §18.1.1: a request this large must not go over UDP unless the
// path MTU is known.
constexpr std::size_t kUdpLimit = 1300;

std::string_view call_id_of(const Message& m) {
  const sip::HeaderField* f = m.find(HeaderId::kCallId);
  return f ? f->value : std::string_view("-");
}

bool creates_dialog(Method method) {
  return method == Method::kInvite || method == Method::kSubscribe || method == Method::kRefer;
}

// The URI of the first Route value, if any.
std::optional<sip::NameAddr> top_route(const Message& m) {
  std::optional<sip::NameAddr> top;
  m.for_each<sip::hdr::Route>([&](const sip::NameAddr& route) {
    top = route;
    return false;
  });
  return top;
}

}  // namespace

struct Proxy::Target {
  std::string uri;                  // the branch's Request-URI; empty: keep the request's
  std::vector<std::string> routes;  // Route values put in front (a binding's Path)
  std::optional<Destination> flow;  // the connection a binding registered on
  int q = 1000;
};

struct Proxy::Branch {
  Target target;
  Message request;  // as sent, for CANCEL
  Destination destination;
  bool proceeding = false;     // a provisional response came: a CANCEL may be sent
  bool cancel_wanted = false;  // send CANCEL as soon as it may be
  bool cancelled = false;
  bool done = false;
  int code = 0;
  std::optional<Message> response;  // the final response, Herald's Via removed
  bool synthetic = false;           // Herald made `response` (timeout, transport error …)
  sip::txn::TimerId timer_c;
  sip::txn::ClientTransactionId client = 0;
};

struct Proxy::Transaction {
  std::uint64_t id = 0;
  sip::txn::ServerTransactionId server = 0;  // 0: originate()
  Message original;                          // as received
  Message request;                           // after route processing: the branches' base
  Protocol inbound = Protocol::kUdp;
  std::string aor;   // the local AOR the targets came from; empty otherwise
  std::string hash;  // loop_hash(original)
  std::vector<std::vector<Target>> groups;
  std::size_t next_group = 0;
  std::deque<Branch> branches;
  bool invite = false;
  bool cancelled = false;
  bool final_sent = false;
  bool stop_forking = false;  // a 6xx came
  bool starting = false;      // a group's branches are being started
  std::function<void(const Message&)> done;
  sip::txn::TimerId answer_due;  // Hooks::on_slow once answer_within has passed
  std::uint64_t slow_ticket = 0;  // on_slow answered it: the ticket for on_slow_done
};

std::string loop_hash(const Message& request) {
  // The fields, each ended by a NUL (none can hold one), hashed together.
  std::string fields(request.request_uri_text());
  fields.push_back('\0');
  if (auto from = request.get<sip::hdr::From>(); from.ok()) fields.append(from->tag().value_or(""));
  fields.push_back('\0');
  if (auto to = request.get<sip::hdr::To>(); to.ok()) fields.append(to->tag().value_or(""));
  fields.push_back('\0');
  fields.append(call_id_of(request));
  fields.push_back('\0');
  if (auto cseq = request.get<sip::hdr::CSeq>(); cseq.ok()) fields.append(std::to_string(cseq->number));
  return fmt::format("{:016x}", sip::grammar::hash64(fields));
}

std::optional<std::size_t> best_response(const std::vector<int>& codes) {
  std::optional<std::size_t> best;
  auto rank = [](int code) {
    if (code >= 600) return 0;  // a 6xx wins outright
    int r = (code / 100) * 10;  // then the lowest class
    if (code == 401 || code == 407 || code == 415 || code == 420 || code == 484) r -= 1;
    return r;
  };
  for (std::size_t i = 0; i < codes.size(); ++i) {
    if (codes[i] < 200) continue;
    if (!best || rank(codes[i]) < rank(codes[*best])) best = i;
  }
  return best;
}

Proxy::Proxy(ProxyConfig config, sip::txn::TransactionLayer& layer, sip::txn::TimerService& timers,
             registrar::LocationService& location, sip::Network& network, UserExists user_exists,
             sip::transport::HostsFile hosts)
    : config_(std::move(config)),
      layer_(layer),
      timers_(timers),
      location_(location),
      network_(network),
      user_exists_(std::move(user_exists)),
      hosts_(std::move(hosts)),
      tokens_(config_.dialog_secret.empty() ? auth::random_bytes(32) : config_.dialog_secret),
      random_(std::random_device{}()) {
  for (std::string& d : config_.domains) d = sip::grammar::lower(d);
}

Proxy::~Proxy() {
  for (auto& [id, txn] : transactions_) {
    for (Branch& b : txn->branches) timers_.cancel(b.timer_c);
    timers_.cancel(txn->answer_due);
  }
}

bool Proxy::serves_domain(std::string_view host) const {
  std::string h = sip::grammar::lower(host);
  return std::find(config_.domains.begin(), config_.domains.end(), h) != config_.domains.end();
}

bool Proxy::is_me(const sip::Uri& uri) const {
  if (!uri.is_sip()) return false;
  if (serves_domain(uri.host)) return uri.port == 0 || network_.listens_on_port(uri.port);
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(std::string(uri.host), ec);
  return !ec && network_.listens_on(address, uri.port == 0 ? 5060 : uri.port);
}

bool Proxy::addressed_to_server(const Message& request) const {
  const sip::Uri& uri = request.request_uri().value();
  if (uri.has_user || !is_me(uri)) return false;
  bool only_mine = true;
  request.for_each<sip::hdr::Route>([&](const sip::NameAddr& route) {
    only_mine = is_me(route.uri);
    return only_mine;
  });
  return only_mine;
}

bool Proxy::is_loop(const Message& request, const std::string& hash) const {
  // §16.3 step 4: a Via Herald placed whose branch carries the hash this request would get.
  bool loop = false;
  request.for_each<sip::hdr::Via>([&](const sip::ViaValue& via) {
    auto branch = via.branch();
    if (!branch || branch->size() <= hash.size() || !branch->ends_with(hash)) return true;
    boost::system::error_code ec;
    auto address = boost::asio::ip::make_address(std::string(via.host), ec);
    bool mine = ec ? serves_domain(via.host) : network_.listens_on(address, via.port == 0 ? 5060 : via.port);
    loop = mine;
    return !loop;
  });
  return loop;
}

void Proxy::handle(sip::txn::ServerTransactionId id, const Message& request, const sip::transport::Source& source,
                   bool may_relay) {
  std::string hash = loop_hash(request);
  if (is_loop(request, hash)) {
    ++counters_.loops;
    network_.respond(id, request, 482, "Loop Detected");
    return;
  }
  route(id, request, source, std::move(hash), may_relay || config_.relay);
}

bool Proxy::carries_token(const sip::Uri& uri, const Message& request) const {
  auto token = uri.params.find(DialogTokens::kParam);
  if (!token || !is_me(uri)) return false;
  auto from = request.get<sip::hdr::From>();
  auto to = request.get<sip::hdr::To>();
  if (!from.ok() || !to.ok()) return false;
  return tokens_.check(*token, call_id_of(request), from->tag().value_or(""), to->tag().value_or(""));
}

Routing Proxy::routing_of(const Message& request) const {
  Routing routing;
  const sip::Uri& request_uri = request.request_uri().value();
  std::vector<sip::Uri> routes;
  request.for_each<sip::hdr::Route>([&](const sip::NameAddr& route) {
    routes.push_back(route.uri);
    return true;
  });
  // The same steps as route(): a strict router's Request-URI naming Herald (the target is then
  // the last Route), then the leading Route values naming Herald.
  sip::Uri target = request_uri;
  std::size_t first = 0;
  std::size_t end = routes.size();
  if (!request_uri.has_user && is_me(request_uri) && !routes.empty()) {
    routing.in_dialog = carries_token(request_uri, request);
    target = routes.back();
    --end;
  }
  while (first < end && is_me(routes[first])) {
    routing.in_dialog = routing.in_dialog || carries_token(routes[first], request);
    ++first;
  }
  if (first < end) {
    routing.foreign = true;  // the next hop is another host
    return routing;
  }
  if (is_me(target)) return routing;  // a local user, or Herald itself
  routing.foreign = target.is_sip() ? location_.find_by_contact(target) == nullptr : true;
  return routing;
}

void Proxy::route(sip::txn::ServerTransactionId id, const Message& request, const sip::transport::Source& source,
                  std::string hash, bool may_relay) {
  auto txn = std::make_unique<Transaction>();
  txn->server = id;
  txn->original = request;
  txn->request = request;
  txn->inbound = source.protocol;
  txn->hash = std::move(hash);
  txn->invite = request.method() == Method::kInvite;
  Message& out = txn->request;

  // §16.4: a strict router before Herald put Herald's URI in the Request-URI; the real one is
  // the last Route.
  if (!request.request_uri()->has_user && is_me(request.request_uri().value()) && request.has(HeaderId::kRoute)) {
    auto routes = request.get_all<sip::hdr::Route>();
    if (routes.ok() && !routes->empty()) {
      std::vector<std::string> kept;
      for (std::size_t i = 0; i + 1 < routes->size(); ++i) kept.emplace_back((*routes)[i].uri.text);
      out.set_request_uri(routes->back().uri.text);
      out.remove(HeaderId::kRoute);
      for (const std::string& r : kept) out.append(HeaderId::kRoute, "<" + r + ">");
    }
  }
  // §16.4: Route values naming Herald are removed (two with double Record-Route). What is left
  // is judged as if they had never been there: a foreign hop or target only with may_relay.
  while (auto route = top_route(out)) {
    if (!is_me(route->uri)) break;
    out.pop_first_value(HeaderId::kRoute);
  }

  if (top_route(out)) {
    // A further hop on the route set: it decides; the Request-URI stays.
    if (!may_relay) {
      network_.respond(id, request, 403, "Relaying denied");
      return;
    }
    txn->groups.push_back({Target{}});
    start(std::move(txn));
    return;
  }

  const sip::Uri& uri = out.request_uri().value();
  if (uri.has_user && is_me(uri)) {
    std::string aor = sip::address_of_record(uri);
    std::vector<store::Binding> bindings = location_.lookup(aor);
    if (bindings.empty()) {
      if (const store::Binding* binding = location_.find_by_contact(uri)) {
        // Herald's own address in a registered contact: the request goes there (a loop
        // through Herald ends with 482 on the next round).
        start_to_contact(std::move(txn), *binding);
        return;
      }
      const bool exists = user_exists_(aor);
      if (!exists) {
        if (unknown_user_) unknown_user_(source);
        if (!config_.hide_unknown_users) {
          network_.respond(id, request, 404, "Not Found");
          return;
        }
      }
      if (hooks_ != nullptr && hooks_->on_unavailable(id, request, aor, exists)) return;
      network_.respond(id, request, 480, "Temporarily Unavailable");
      return;
    }
    if (config_.mode == Mode::kRedirect) {
      redirect(id, request, bindings);
      return;
    }
    if (hooks_ != nullptr && hooks_->on_forward(id, request, aor)) return;
    txn->aor = std::move(aor);
    std::vector<Target> targets = targets_of(bindings);
    for (Target& t : targets) {
      if (txn->groups.empty() || txn->groups.back().front().q != t.q) txn->groups.emplace_back();
      txn->groups.back().push_back(std::move(t));
    }
    if (!txn->invite && hooks_ != nullptr && config_.answer_within.count() > 0) {
      const std::uint64_t txn_id = next_id_;  // the id start() gives it
      txn->answer_due = timers_.schedule_after(config_.answer_within, [this, txn_id] { on_answer_due(txn_id); });
    }
    start(std::move(txn));
    return;
  }
  if (config_.mode == Mode::kRedirect) {
    network_.respond(id, request, 403, "Relaying denied");
    return;
  }
  if (const store::Binding* binding = location_.find_by_contact(uri)) {
    // A registered contact (a remote target in a dialog, or one a user advertised).
    start_to_contact(std::move(txn), *binding);
    return;
  }
  if (!uri.has_user && is_me(uri)) {
    network_.respond(id, request, 404, "Not Found");
    return;
  }
  if (may_relay) {
    txn->groups.push_back({Target{}});
    start(std::move(txn));
    return;
  }
  network_.respond(id, request, 403, "Relaying denied");
}

void Proxy::redirect(sip::txn::ServerTransactionId id, const Message& request,
                     const std::vector<store::Binding>& bindings) {
  ++counters_.redirects;
  std::vector<std::pair<HeaderId, std::string>> contacts;
  const std::int64_t now = location_.now();
  for (const store::Binding& b : bindings) {
    std::string value = "<" + b.contact + ">";
    if (b.q >= 0) value += fmt::format(";q={}.{:03}", b.q / 1000, b.q % 1000);
    value += fmt::format(";expires={}", std::max<std::int64_t>(b.expires_at - now, 0));
    contacts.emplace_back(HeaderId::kContact, std::move(value));
  }
  network_.respond(id, request, 302, "Moved Temporarily", contacts);
}

Proxy::Target Proxy::target_of(const store::Binding& binding) const {
  Target t;
  t.uri = binding.contact;
  t.routes = binding.path;
  t.flow = flow_of(binding.received);
  t.q = binding.q < 0 ? 1000 : binding.q;
  return t;
}

std::vector<Proxy::Target> Proxy::targets_of(const std::vector<store::Binding>& bindings) const {
  std::vector<Target> out;
  out.reserve(bindings.size());
  for (const store::Binding& b : bindings) out.push_back(target_of(b));
  return out;
}

void Proxy::start_to_contact(std::unique_ptr<Transaction> txn, const store::Binding& binding) {
  Target t = target_of(binding);
  t.uri.clear();  // the Request-URI already names the contact, perhaps without its parameters
  txn->groups.push_back({std::move(t)});
  start(std::move(txn));
}

void Proxy::originate(Message request, const std::string& aor, std::function<void(const Message&)> done) {
  std::vector<store::Binding> bindings = location_.lookup(aor);
  if (bindings.empty()) {
    done(sip::make_response(request, 480, "Temporarily Unavailable"));
    return;
  }
  auto txn = std::make_unique<Transaction>();
  txn->original = request;
  txn->request = std::move(request);
  txn->inbound = Protocol::kUdp;
  txn->hash = loop_hash(txn->original);
  txn->invite = txn->request.method() == Method::kInvite;
  txn->done = std::move(done);
  for (Target& t : targets_of(bindings)) {
    if (txn->groups.empty() || txn->groups.back().front().q != t.q) txn->groups.emplace_back();
    txn->groups.back().push_back(std::move(t));
  }
  start(std::move(txn));
}

void Proxy::start(std::unique_ptr<Transaction> txn) {
  const std::uint64_t id = next_id_++;
  txn->id = id;
  if (txn->server != 0) by_server_[txn->server] = id;
  Transaction& t = *txn;
  transactions_.emplace(id, std::move(txn));
  start_next_group(t);
}

void Proxy::start_next_group(Transaction& txn) {
  const std::uint64_t id = txn.id;
  const std::vector<Target> group = txn.groups[txn.next_group++];
  txn.starting = true;
  for (const Target& target : group) start_branch(txn, target);
  txn.starting = false;
  finish_if_done(txn);  // when every branch failed at once
  static_cast<void>(id);
}

std::string Proxy::record_route_value(Protocol protocol, bool double_route, std::string_view token) const {
  std::string value = "<sip:" + network_.sent_by(protocol);
  value += sip::transport::uri_transport_param(protocol);
  value += ";lr";
  if (double_route) value += ";r2=on";
  value.append(";").append(DialogTokens::kParam).append("=").append(token);
  value += ">";
  return value;
}

void Proxy::start_branch(Transaction& txn, const Target& target) {
  const std::uint64_t txn_id = txn.id;
  const std::size_t index = txn.branches.size();
  txn.branches.emplace_back();
  Branch& branch = txn.branches.back();
  branch.target = target;
  Message out = txn.request;

  // §16.6 steps 2-3, 7: Request-URI, Max-Forwards, Path as the route set.
  if (!target.uri.empty()) out.set_request_uri(target.uri);
  auto max_forwards = out.get<sip::hdr::MaxForwards>();
  out.set(HeaderId::kMaxForwards, std::to_string(max_forwards.ok() && max_forwards.value() > 0
                                                     ? max_forwards.value() - 1
                                                     : 70));
  for (auto it = target.routes.rbegin(); it != target.routes.rend(); ++it) {
    out.prepend(HeaderId::kRoute, it->starts_with('<') ? *it : "<" + *it + ">");  // Path holds bare URIs
  }

  // §16.6 steps 6-7: the next hop is the first Route (strict routers get the old form).
  std::optional<Destination> destination;
  std::string why;
  sip::transport::Resolution resolution;
  if (auto route = top_route(out)) {
    if (!route->uri.has_param("lr")) {
      std::string next(route->uri.text);
      out.pop_first_value(HeaderId::kRoute);
      std::string old_target = "<";
      old_target.append(out.request_uri_text()).push_back('>');
      out.append(HeaderId::kRoute, old_target);
      out.set_request_uri(next);
    }
    resolution = sip::transport::resolve(route->uri, hosts_);
  } else if (target.flow && network_.connection_open(target.flow->address, target.flow->port)) {
    destination = target.flow;
  } else {
    resolution = sip::transport::resolve(out.request_uri().value(), hosts_);
  }
  if (!destination) {
    if (resolution.destinations.empty()) {
      on_branch_failure(txn_id, index, 503, resolution.error.empty() ? "Cannot resolve target" : resolution.error);
      return;
    }
    destination = resolution.destinations.front();
  }

  // §16.6 steps 4 and 8: Record-Route on requests that create dialogs (two entries when the
  // transport changes, RFC 5658), and Herald's Via, its branch carrying the loop hash.
  const bool record_route = config_.record_route && creates_dialog(out.method()) && txn.server != 0 &&
                            !out.get<sip::hdr::To>()->tag();
  std::string token;
  if (record_route) {
    auto from = txn.original.get<sip::hdr::From>();
    token = tokens_.make(call_id_of(txn.original), from.ok() ? from->tag().value_or("") : "");
  }
  auto finish = [&](Message m, Protocol protocol) {
    if (record_route) {
      if (txn.inbound != protocol) {
        m.prepend(HeaderId::kRecordRoute, record_route_value(txn.inbound, true, token));
        m.prepend(HeaderId::kRecordRoute, record_route_value(protocol, true, token));
      } else {
        m.prepend(HeaderId::kRecordRoute, record_route_value(protocol, false, token));
      }
    }
    m.prepend(HeaderId::kVia, network_.via(protocol, layer_.new_branch() + "-" + txn.hash));
    return m;
  };
  Message base = out;
  out = finish(base, destination->protocol);
  // RFC 3261 §18.1.1, RFC 3428 §5: a request over 1300 bytes goes over a connection when one
  // is open; a MESSAGE that cannot is refused.
  if (!sip::transport::kind_of(destination->protocol).reliable && sip::serialized_size(out) > kUdpLimit) {
    if (network_.connection_open(destination->address, destination->port)) {
      destination->protocol = Protocol::kTcp;
      out = finish(base, Protocol::kTcp);
    } else if (out.method() == Method::kMessage) {
      on_branch_failure(txn_id, index, 513, "Message Too Large");
      return;
    }
  }
  branch.request = out;
  branch.destination = *destination;

  sip::txn::ClientCallbacks callbacks;
  callbacks.on_response = [this, txn_id, index](const Message& response) {
    on_branch_response(txn_id, index, response);
  };
  callbacks.on_timeout = [this, txn_id, index] { on_branch_failure(txn_id, index, 408, "Request Timeout"); };
  callbacks.on_transport_error = [this, txn_id, index](const boost::system::error_code& ec) {
    on_branch_failure(txn_id, index, 503, "Service Unavailable: " + ec.message());
  };
  branch.client = layer_.send_request(out, *destination, std::move(callbacks));
  if (branch.client == 0) {
    on_branch_failure(txn_id, index, 500, "Cannot start client transaction");
    return;
  }
  ++counters_.forwarded;
  if (transactions_.count(txn_id) == 0 || branch.done) return;  // it failed during the send
  spdlog::debug("call-id={} {} forwarded to {} via {}:{}", call_id_of(out), out.method_name(),
                out.request_uri_text(), destination->address, destination->port);
  if (txn.invite) {
    branch.timer_c = timers_.schedule_after(config_.timer_c, [this, txn_id, index] { on_timer_c(txn_id, index); });
  }
}

void Proxy::on_branch_response(std::uint64_t txn_id, std::size_t index, const Message& response) {
  Message up = response;
  up.pop_first_value(HeaderId::kVia);
  const int code = response.status_code();
  auto found = transactions_.find(txn_id);
  if (found == transactions_.end()) {
    // A 2xx retransmission after the transaction ended (RFC 6026): forwarded as it came.
    if (code >= 200 && code < 300 && response.get<sip::hdr::CSeq>()->method == Method::kInvite) {
      network_.send_response_by_via(up);
    }
    return;
  }
  Transaction& txn = *found->second;
  Branch& branch = txn.branches[index];
  if (code < 200) {
    branch.proceeding = true;
    if (code > 100 && txn.invite && !branch.done) {  // §16.7 step 2: Timer C restarts
      timers_.cancel(branch.timer_c);
      branch.timer_c = timers_.schedule_after(config_.timer_c, [this, txn_id, index] { on_timer_c(txn_id, index); });
    }
    if (branch.cancel_wanted) cancel_branch(txn, branch);
    if (code > 100 && !txn.final_sent && !branch.done) send_upstream(txn, up);
    return;
  }
  if (code < 300) {
    const bool first = !branch.done;
    branch.done = true;
    branch.code = code;
    timers_.cancel(branch.timer_c);
    if (txn.invite) {
      send_upstream(txn, up);  // every 2xx of an INVITE goes upstream (§16.7 step 5)
      txn.final_sent = true;
      if (first) cancel_pending(txn, index);
    } else if (!txn.final_sent) {
      send_upstream(txn, up);
      txn.final_sent = true;
    }
    if (first) finish_if_done(txn);
    return;
  }
  if (branch.done) return;
  branch.done = true;
  branch.code = code;
  branch.response = std::move(up);
  timers_.cancel(branch.timer_c);
  if (code >= 600) {
    txn.stop_forking = true;
    if (txn.invite) cancel_pending(txn, index);
  }
  finish_if_done(txn);
}

void Proxy::on_branch_failure(std::uint64_t txn_id, std::size_t index, int code, std::string_view reason) {
  auto found = transactions_.find(txn_id);
  if (found == transactions_.end()) return;
  Transaction& txn = *found->second;
  Branch& branch = txn.branches[index];
  if (branch.done) return;
  branch.done = true;
  branch.code = code;
  timers_.cancel(branch.timer_c);
  branch.response = sip::make_response(txn.original, code, reason, fmt::format("{:016x}", random_()));
  branch.synthetic = true;
  spdlog::debug("call-id={} branch {} failed: {} {}", call_id_of(txn.original), index, code, reason);
  finish_if_done(txn);
}

void Proxy::on_answer_due(std::uint64_t txn_id) {
  auto found = transactions_.find(txn_id);
  if (found == transactions_.end()) return;
  Transaction& txn = *found->second;
  if (txn.final_sent || txn.server == 0 || hooks_ == nullptr) return;
  txn.slow_ticket = hooks_->on_slow(txn.server, txn.original, txn.aor);
  if (txn.slow_ticket != 0) txn.final_sent = true;  // answered; the branches go on
}

void Proxy::on_timer_c(std::uint64_t txn_id, std::size_t index) {
  auto found = transactions_.find(txn_id);
  if (found == transactions_.end()) return;
  Transaction& txn = *found->second;
  Branch& branch = txn.branches[index];
  if (branch.done) return;
  if (branch.proceeding && !branch.cancelled) {
    // §16.8: cancel the branch; if it still does not end, give up on it one Timer F later,
    // and on its client transaction too: in Proceeding no timer of its own would end it.
    cancel_branch(txn, branch);
    branch.timer_c = timers_.schedule_after(std::chrono::seconds(32), [this, txn_id, index, client = branch.client] {
      on_branch_failure(txn_id, index, 408, "Request Timeout");
      layer_.terminate(client);
    });
    return;
  }
  on_branch_failure(txn_id, index, 408, "Request Timeout");
}

void Proxy::cancel_branch(Transaction& txn, Branch& branch) {
  if (branch.done || branch.cancelled || !txn.invite) return;
  if (!branch.proceeding) {  // §9.1: not before a provisional response
    branch.cancel_wanted = true;
    return;
  }
  branch.cancelled = true;
  branch.cancel_wanted = false;
  // §9.1: Request-URI, Call-ID, From, To, CSeq number, top Via and Route as the INVITE.
  const Message& invite = branch.request;
  Message cancel = Message::request("CANCEL", invite.request_uri_text());
  cancel.append(HeaderId::kVia, invite.find(HeaderId::kVia)->value);
  for (const sip::HeaderField& f : invite.headers()) {
    if (f.id == HeaderId::kRoute) cancel.append(HeaderId::kRoute, f.value);
  }
  cancel.append(HeaderId::kMaxForwards, "70");
  cancel.append(HeaderId::kFrom, invite.find(HeaderId::kFrom)->value);
  cancel.append(HeaderId::kTo, invite.find(HeaderId::kTo)->value);
  cancel.append(HeaderId::kCallId, invite.find(HeaderId::kCallId)->value);
  cancel.append(HeaderId::kCSeq, fmt::format("{} CANCEL", invite.get<sip::hdr::CSeq>()->number));
  cancel.append(HeaderId::kContentLength, "0");
  layer_.send_request(cancel, branch.destination, {});
  ++counters_.cancelled;
}

void Proxy::cancel_pending(Transaction& txn, std::size_t except) {
  for (std::size_t i = 0; i < txn.branches.size(); ++i) {
    if (i != except) cancel_branch(txn, txn.branches[i]);
  }
}

bool Proxy::cancel(sip::txn::ServerTransactionId invite) {
  auto found = by_server_.find(invite);
  if (found == by_server_.end()) return false;
  Transaction& txn = *transactions_.at(found->second);
  txn.cancelled = true;
  for (Branch& b : txn.branches) cancel_branch(txn, b);
  return true;
}

void Proxy::finish_if_done(Transaction& txn) {
  if (txn.starting) return;
  for (const Branch& b : txn.branches) {
    if (!b.done) return;
  }
  if (!txn.final_sent && !txn.cancelled && !txn.stop_forking && txn.next_group < txn.groups.size()) {
    start_next_group(txn);  // §16.6: sequential search, the next q group
    return;
  }
  const std::uint64_t id = txn.id;
  if (txn.slow_ticket != 0 && hooks_ != nullptr) {
    const bool delivered = std::any_of(txn.branches.begin(), txn.branches.end(),
                                       [](const Branch& b) { return b.code >= 200 && b.code < 300; });
    hooks_->on_slow_done(std::exchange(txn.slow_ticket, 0), delivered);
  }
  if (!txn.final_sent) {
    std::vector<int> codes;
    for (const Branch& b : txn.branches) codes.push_back(b.response ? b.code : 0);
    // RFC 4320 §4.2: no 408 to a non-INVITE request; a branch's 408 is passed over, and when
    // nothing else came the request gets no answer at all (its sender's Timer F ends it).
    std::vector<int> candidates = codes;
    if (!txn.invite) std::replace(candidates.begin(), candidates.end(), 408, 0);
    auto best_index = best_response(candidates);
    if (!best_index && !txn.invite && txn.server != 0) {
      txn.final_sent = true;
      Message timeout = sip::make_response(txn.original, 408, "Request Timeout");
      Outcome outcome{timeout, codes};
      if (!(!txn.aor.empty() && hooks_ != nullptr && hooks_->on_failed(txn.server, txn.original, txn.aor, outcome))) {
        spdlog::info("call-id={} {} not answered: no branch answered in time (RFC 4320: no 408)",
                     call_id_of(txn.original), txn.original.method_name());
        layer_.abandon(txn.server);
      }
      erase(id);
      return;
    }
    Message best = best_index ? *txn.branches[*best_index].response
                              : sip::make_response(txn.original, 408, "Request Timeout");
    const int code = best.status_code();
    if (code == 401 || code == 407) {  // §16.7 step 7: every challenge goes to the client
      for (std::size_t i = 0; i < txn.branches.size(); ++i) {
        if (i == *best_index || !txn.branches[i].response) continue;
        for (const sip::HeaderField& f : txn.branches[i].response->headers()) {
          if (f.id == HeaderId::kWwwAuthenticate || f.id == HeaderId::kProxyAuthenticate) best.append(f.id, f.value);
        }
      }
    }
    if (code == 503) {  // §16.7 step 6; Herald's own reason (e.g. "cannot resolve …") is kept
      best.set_status(500, txn.branches[*best_index].synthetic ? std::string(best.reason_phrase())
                                                               : std::string("Server Internal Error"));
    }
    txn.final_sent = true;
    Outcome outcome{best, codes};
    if (!(txn.server != 0 && !txn.aor.empty() && hooks_ != nullptr &&
          hooks_->on_failed(txn.server, txn.original, txn.aor, outcome))) {
      send_upstream(txn, best);
    }
  }
  erase(id);
}

void Proxy::send_upstream(Transaction& txn, const Message& response) {
  if (txn.server != 0) {
    layer_.respond(txn.server, response);
    return;
  }
  if (response.status_code() >= 200 && txn.done) {
    auto done = std::move(txn.done);
    txn.done = nullptr;
    done(response);
  }
}

void Proxy::erase(std::uint64_t txn_id) {
  auto found = transactions_.find(txn_id);
  if (found == transactions_.end()) return;
  for (Branch& b : found->second->branches) timers_.cancel(b.timer_c);
  timers_.cancel(found->second->answer_due);
  if (found->second->server != 0) by_server_.erase(found->second->server);
  transactions_.erase(found);
}

void Proxy::on_ack(const Message& ack, const sip::transport::Source& source) {
  static_cast<void>(source);
  Message out = ack;
  // An ACK cannot be challenged (RFC 3261 §22.1): to a foreign target it goes only inside a
  // dialog Herald record-routed (or with relay on).
  const bool may_relay = config_.relay || routing_of(ack).in_dialog;
  while (auto route = top_route(out)) {
    if (!is_me(route->uri)) break;
    out.pop_first_value(HeaderId::kRoute);
  }
  std::optional<Destination> destination;
  sip::transport::Resolution resolution;
  const sip::Uri& uri = out.request_uri().value();
  if (auto route = top_route(out)) {
    if (!may_relay) {
      spdlog::debug("call-id={} ACK for a foreign route dropped (not in a dialog through Herald)", call_id_of(ack));
      return;
    }
    resolution = sip::transport::resolve(route->uri, hosts_);
  } else if (uri.has_user && is_me(uri)) {
    spdlog::debug("call-id={} ACK for an AOR dropped: ACKs for 2xx go to a contact", call_id_of(ack));
    return;
  } else if (const store::Binding* binding = location_.find_by_contact(uri)) {
    Target t = target_of(*binding);
    if (t.flow && network_.connection_open(t.flow->address, t.flow->port)) {
      destination = t.flow;
    } else {
      resolution = sip::transport::resolve(uri, hosts_);
    }
  } else if (may_relay) {
    resolution = sip::transport::resolve(uri, hosts_);
  } else {
    spdlog::debug("call-id={} ACK for a foreign target dropped (not in a dialog through Herald)", call_id_of(ack));
    return;
  }
  if (!destination) {
    if (resolution.destinations.empty()) {
      spdlog::debug("call-id={} ACK dropped: {}", call_id_of(ack), resolution.error);
      return;
    }
    destination = resolution.destinations.front();
  }
  auto max_forwards = out.get<sip::hdr::MaxForwards>();
  if (max_forwards.ok() && max_forwards.value() == 0) return;
  out.set(HeaderId::kMaxForwards, std::to_string(max_forwards.ok() ? max_forwards.value() - 1 : 70));
  out.prepend(HeaderId::kVia, network_.via(destination->protocol, layer_.new_branch()));
  ++counters_.stateless;
  network_.send_stateless(out, *destination);
}

void Proxy::on_stray_response(const Message& response) {
  const int code = response.status_code();
  auto cseq = response.get<sip::hdr::CSeq>();
  if (code < 200 || code >= 300 || !cseq.ok() || cseq->method != Method::kInvite) return;
  auto via = response.get<sip::hdr::Via>();
  if (!via.ok()) return;
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(std::string(via->host), ec);
  if (ec || !network_.listens_on(address, via->port == 0 ? 5060 : via->port)) return;
  Message up = response;
  up.pop_first_value(HeaderId::kVia);
  if (!up.has(HeaderId::kVia)) return;
  ++counters_.stateless;
  network_.send_response_by_via(up);
}

}  // namespace herald::services::proxy
