#include "services/core/server_core.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "sip/transport/address_text.h"

namespace herald::services {
namespace {

using sip::HeaderId;
using sip::Message;
using sip::Method;

std::string join(const std::vector<std::string>& items) { return fmt::format("{}", fmt::join(items, ", ")); }

std::string_view call_id_of(const Message& m) {
  const sip::HeaderField* f = m.find(HeaderId::kCallId);
  return f ? f->value : std::string_view("-");
}

}  // namespace

ServerCore::ServerCore(Capabilities capabilities, std::string server_header)
    : capabilities_(std::move(capabilities)),
      allow_(join(capabilities_.methods)),
      server_header_(std::move(server_header)),
      random_(std::random_device{}()) {}

std::string ServerCore::new_tag() { return fmt::format("{:016x}", random_()); }

void ServerCore::respond(sip::txn::ServerTransactionId id, const Message& request, int code,
                         std::string_view reason, const std::vector<std::pair<HeaderId, std::string>>& extra,
                         std::string_view to_tag) {
  std::string tag = !to_tag.empty() ? std::string(to_tag) : code > 100 ? new_tag() : std::string();
  Message response = sip::make_response(request, code, reason, tag);
  response.remove(HeaderId::kContentLength);
  for (const auto& [header, value] : extra) response.append(header, value);
  response.append(HeaderId::kContentLength, "0");
  send(id, request, std::move(response));
}

void ServerCore::send(sip::txn::ServerTransactionId id, const Message& request, Message response, bool routine) {
  int code = response.status_code();
  std::string_view reason = response.reason_phrase();
  // Server goes before Content-Length, which stays last where readers of a trace expect it.
  if (!server_header_.empty()) {
    response.remove(HeaderId::kContentLength);
    response.append(HeaderId::kServer, server_header_);
    response.append(HeaderId::kContentLength, std::to_string(response.body().size()));
  }
  ++counters_.responses[std::clamp(code / 100, 1, 6)];
  if (code >= 300 && code != 401 && code != 407 && !routine) {  // challenges are routine: debug only
    spdlog::info("call-id={} {} {} -> {} {}", call_id_of(request), request.method_name(), request.request_uri_text(),
                 code, reason.empty() ? sip::default_reason(code) : reason);
  } else {
    spdlog::debug("call-id={} {} {} -> {}", call_id_of(request), request.method_name(), request.request_uri_text(), code);
  }
  if (id == 0) {
    if (stateless_source_ != nullptr) layer_->send_stateless(response, *stateless_source_);
    return;
  }
  layer_->respond(id, response);
}

bool ServerCore::on_stateless_request(const Message& request, std::string_view server_key,
                                      const sip::transport::Source& source) {
  if (request.method() != Method::kRegister || registrar_ == nullptr) return false;
  if (source.protocol != sip::transport::Protocol::kUdp) return false;  // reliable: nothing is kept anyway
  const std::optional<registrar::Registrar::CopyKey> key = registrar_->copy_key(request, server_key);
  if (!key) return false;
  // Every answer to a REGISTER is made within this call (the registrar and the
  // authenticator answer at once).
  stateless_source_ = &source;
  stateless_key_ = &*key;
  if (auto copy = registrar_->answer_copy(request, *key)) {
    // A copy of one the registrar accepted: answered before authentication, since the
    // original used up its nonce count.
    send(0, request, std::move(*copy));
  } else {
    on_request(0, request, source);
  }
  stateless_source_ = nullptr;
  stateless_key_ = nullptr;
  return true;
}

void ServerCore::on_request(sip::txn::ServerTransactionId id, const Message& request,
                            const sip::transport::Source& source) {
  if (throttle_ != nullptr) {
    if (auto wait = throttle_->source_blocked(source.remote_address)) {
      respond_throttled(id, request, "Too many failed attempts from this address", *wait);
      return;
    }
  }
  const sip::Uri& uri = request.request_uri().value();
  // §8.2.2.1 / §16.3 step 1: a scheme Herald cannot route.
  if (!uri.is_sip()) {
    respond(id, request, 416, "Unsupported URI Scheme");
    return;
  }
  // §16.3 step 3: no more hops.
  if (auto mf = request.get<sip::hdr::MaxForwards>(); mf.ok() && mf.value() == 0) {
    respond(id, request, 483, "Too Many Hops");
    return;
  }
  // §8.2.2.3 and §16.3 step 6 (Proxy-Require): extensions the request depends on.
  if (request.method() != Method::kCancel) {
    std::vector<std::string> unsupported;
    auto collect = [&](std::string_view tag) {
      bool known = std::any_of(capabilities_.supported.begin(), capabilities_.supported.end(),
                               [&](const std::string& s) { return sip::grammar::iequals(s, tag); });
      if (!known) unsupported.emplace_back(tag);
      return true;
    };
    request.for_each<sip::hdr::Require>(collect);
    request.for_each<sip::hdr::ProxyRequire>(collect);
    if (!unsupported.empty()) {
      respond(id, request, 420, "Bad Extension", {{HeaderId::kUnsupported, join(unsupported)}});
      return;
    }
  }
  Sender sender = check_sender(id, request, source, /*always=*/false);
  if (sender == Sender::kRefused) return;
  if (request.method() == Method::kSubscribe && notifier_ != nullptr && for_notifier(request)) {
    notifier_->handle_subscribe(id, request, source);
    return;
  }
  if (request.method() == Method::kPublish && presence_ != nullptr &&
      (proxy_ == nullptr || proxy_->is_me(uri))) {
    presence_->handle_publish(id, request);
    return;
  }
  if (proxy_ != nullptr && request.method() != Method::kRegister && request.method() != Method::kCancel &&
      !proxy_->addressed_to_server(request)) {
    // RFC 3261 §16.4: once the Route values naming Herald are off, a foreign hop or target is
    // served only for an authenticated local user or inside a dialog Herald record-routed. A
    // local sender not challenged yet (in-dialog, OPTIONS) proves itself now.
    bool may_relay = sender == Sender::kAuthenticated;
    if (!may_relay) {
      const proxy::Routing routing = proxy_->routing_of(request);
      may_relay = !routing.foreign || routing.in_dialog;
      if (!may_relay && sender == Sender::kUnchecked) {
        sender = check_sender(id, request, source, /*always=*/true);
        if (sender == Sender::kRefused) return;
        may_relay = sender == Sender::kAuthenticated;
      }
    }
    proxy_->handle(id, request, source, may_relay);
    return;
  }
  switch (request.method()) {
    case Method::kOptions: {
      std::vector<std::pair<HeaderId, std::string>> extra = {
          {HeaderId::kAllow, allow_},
          {HeaderId::kAccept, join(capabilities_.accept)},
          {HeaderId::kSupported, join(capabilities_.supported)},
      };
      if (!capabilities_.events.empty()) extra.emplace_back(HeaderId::kAllowEvents, join(capabilities_.events));
      respond(id, request, 200, "OK", extra);
      return;
    }
    case Method::kCancel: {
      // §9.2 / §16.10: 200 for the CANCEL when it matches a transaction. A proxied INVITE is
      // cancelled downstream and ends with its branches' answers; any other unanswered one
      // ends with 487 here.
      auto invite = layer_->find_invite_for_cancel(request);
      if (!invite) {
        respond(id, request, 481, "Call/Transaction Does Not Exist");
        return;
      }
      respond(id, request, 200, "OK");
      if (proxy_ != nullptr && proxy_->cancel(*invite)) return;
      if (const Message* original = layer_->request_of(*invite)) {
        respond(*invite, *original, 487, "Request Terminated");
      }
      return;
    }
    case Method::kRegister:
      if (registrar_ != nullptr) {
        handle_register(id, request, source);
        return;
      }
      respond(id, request, 405, "Method Not Allowed", {{HeaderId::kAllow, allow_}});
      return;
    case Method::kOther:
      respond(id, request, 501, "Not Implemented", {{HeaderId::kAllow, allow_}});
      return;
    default:
      respond(id, request, 405, "Method Not Allowed", {{HeaderId::kAllow, allow_}});
      return;
  }
}

void ServerCore::respond_throttled(sip::txn::ServerTransactionId id, const Message& request, std::string_view reason,
                                   std::uint32_t retry_after) {
  Message response = sip::make_response(request, 503, reason, new_tag());
  response.remove(HeaderId::kContentLength);
  response.append(HeaderId::kRetryAfter, std::to_string(retry_after));
  response.append(HeaderId::kContentLength, "0");
  // The throttle logged the block once (warn); each request refused under it is debug only.
  send(id, request, std::move(response), /*routine=*/true);
}

ServerCore::Sender ServerCore::check_sender(sip::txn::ServerTransactionId id, const Message& request,
                                            const sip::transport::Source& source, bool always) {
  // Requests that go through the server on behalf of a local user must prove who sends
  // them (RFC 3261 §22.3): out-of-dialog requests whose From is in a served domain. The
  // server's own OPTIONS, ACK, CANCEL (§22.1: never challenged) and REGISTER (401 in the
  // registrar's path) are not challenged here, nor are in-dialog requests (To has a tag),
  // unless `always` (a local user's request for a foreign target): ACK and CANCEL never.
  if (authenticator_ == nullptr || registrar_ == nullptr) return Sender::kUnchecked;
  switch (request.method()) {
    case Method::kAck:
    case Method::kCancel:
    case Method::kRegister:
      return Sender::kUnchecked;
    case Method::kOptions:
      if (!always) return Sender::kUnchecked;
      break;
    default:
      break;
  }
  if (!always && request.get<sip::hdr::To>()->tag()) return Sender::kUnchecked;
  auto from = request.get<sip::hdr::From>();
  if (!from->uri.is_sip() || !registrar_->serves_domain(from->uri.host)) return Sender::kUnchecked;
  auth::Verdict verdict = authenticator_->verify(request, /*proxy=*/true, &source.remote_address);
  if (verdict.outcome == auth::Outcome::kMalformed) {
    respond(id, request, 400, verdict.reason);
    return Sender::kRefused;
  }
  if (verdict.outcome == auth::Outcome::kThrottled) {
    respond_throttled(id, request, "Too many failed authentications for this account", verdict.retry_after);
    return Sender::kRefused;
  }
  if (!verdict.ok()) {
    Message challenge = sip::make_response(request, 407, "Proxy Authentication Required", new_tag());
    challenge.remove(HeaderId::kContentLength);
    std::string realm = verdict.realm.empty() ? std::string(from->uri.host) : verdict.realm;
    authenticator_->add_challenge(challenge, realm, verdict.stale_challenge(), /*proxy=*/true);
    challenge.append(HeaderId::kContentLength, "0");
    spdlog::debug("call-id={} {} challenged: {}", call_id_of(request), request.method_name(),
                  auth::outcome_name(verdict.outcome));
    send(id, request, std::move(challenge));
    return Sender::kRefused;
  }
  // The credentials must be those of the From AOR.
  if ("sip:" + verdict.username + "@" + verdict.realm != sip::address_of_record(from->uri)) {
    respond(id, request, 403, "Authenticated identity does not match From");
    return Sender::kRefused;
  }
  return Sender::kAuthenticated;
}

void ServerCore::handle_register(sip::txn::ServerTransactionId id, const Message& request,
                                 const sip::transport::Source& source) {
  // RFC 3261 §10.3 step 5 / RFC 4475 §3.3.4: the To header holds the AOR, a SIP or SIPS URI.
  if (!request.get<sip::hdr::To>()->uri.is_sip()) {
    respond(id, request, 400, "To must hold a SIP or SIPS URI");
    return;
  }
  std::optional<std::string> identity;
  if (authenticator_ != nullptr) {
    auth::Verdict verdict = authenticator_->verify(request, /*proxy=*/false, &source.remote_address);
    if (verdict.outcome == auth::Outcome::kMalformed) {
      respond(id, request, 400, verdict.reason);
      return;
    }
    if (verdict.outcome == auth::Outcome::kThrottled) {
      respond_throttled(id, request, "Too many failed authentications for this account", verdict.retry_after);
      return;
    }
    if (!verdict.ok()) {
      // RFC 3261 §22.2: challenge. Unknown users and wrong passwords get the same answer.
      Message challenge = sip::make_response(request, 401, "Unauthorized", new_tag());
      challenge.remove(HeaderId::kContentLength);
      std::string realm = verdict.realm.empty() ? std::string(request.request_uri()->host) : verdict.realm;
      authenticator_->add_challenge(challenge, realm, verdict.stale_challenge(), /*proxy=*/false);
      challenge.append(HeaderId::kContentLength, "0");
      spdlog::debug("call-id={} REGISTER challenged: {}", call_id_of(request), auth::outcome_name(verdict.outcome));
      send(id, request, std::move(challenge));
      return;
    }
    identity = "sip:" + verdict.username + "@" + verdict.realm;
  }
  send(id, request, registrar_->handle(request, source, identity, id == 0 ? stateless_key_ : nullptr));
}

bool ServerCore::for_notifier(const Message& subscribe) const {
  const bool to_server = proxy_ == nullptr || proxy_->addressed_to_server(subscribe);
  if (subscribe.get<sip::hdr::To>()->tag()) return to_server || notifier_->has_dialog(subscribe);
  if (to_server) return true;
  const sip::Uri& uri = subscribe.request_uri().value();
  if (!uri.has_user || !proxy_->is_me(uri)) return false;  // another domain: relayed or refused
  auto event = subscribe.get<sip::hdr::Event>();
  return !event.ok() || notifier_->package_of(subscribe) != nullptr;
}

void ServerCore::serve_proxy(proxy::Proxy& proxy) {
  proxy_ = &proxy;
  proxy.set_responder([this](sip::txn::ServerTransactionId id, const Message& request, int code,
                             std::string_view reason, const std::vector<std::pair<HeaderId, std::string>>& extra) {
    respond(id, request, code, reason, extra);
  });
}

void ServerCore::on_ack(const Message& ack, const sip::transport::Source& source) {
  if (proxy_ != nullptr) {
    proxy_->on_ack(ack, source);
    return;
  }
  ++counters_.stray_acks;
  spdlog::debug("call-id={} ACK absorbed: no transaction waits for it", call_id_of(ack));
}

void ServerCore::on_stray_response(const Message& response, const sip::transport::Source& source) {
  ++counters_.stray_responses;
  if (proxy_ != nullptr) proxy_->on_stray_response(response);
  spdlog::debug("call-id={} stray {} response from {}:{} dropped", call_id_of(response), response.status_code(),
                source.remote_address, source.remote_port);
}

}  // namespace herald::services
