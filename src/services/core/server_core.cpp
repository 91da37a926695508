#include "services/core/server_core.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>

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

ServerCore::ServerCore(Capabilities capabilities, sip::Network& network)
    : capabilities_(std::move(capabilities)),
      allow_(join(capabilities_.methods)),
      network_(network),
      random_(std::random_device{}()) {}

std::string ServerCore::tag_for(const sip::Reply& to) {
  return to.to_tag().empty() ? fmt::format("{:016x}", random_()) : std::string(to.to_tag());
}

bool ServerCore::on_stateless_request(const Message& request, std::string_view server_key,
                                      const sip::transport::Source& source) {
  // §8.2.7: the To tag of a stateless answer is made from the request, the same for every copy.
  char tag[17];
  auto [end, ec] = std::to_chars(tag, tag + 16, sip::grammar::hash64(server_key), 16);
  const std::string_view to_tag(tag, static_cast<std::size_t>(end - tag));
  switch (request.method()) {
    case Method::kOptions:
      // OPTIONS to the server itself asks nothing of its state: answered without a transaction,
      // whose completed form would hold the answer for Timer J's 32 s (the most memory of any
      // request at high rates). A copy is simply answered again.
      if (request.get<sip::hdr::To>()->tag() || (proxy_ != nullptr && !proxy_->addressed_to_server(request))) {
        return false;
      }
      serve(sip::Reply::stateless(source, to_tag), request, source, nullptr);
      return true;
    case Method::kRegister:
      return register_stateless(request, server_key, source, to_tag);
    default:
      return false;
  }
}

bool ServerCore::register_stateless(const Message& request, std::string_view server_key,
                                    const sip::transport::Source& source, std::string_view to_tag) {
  if (registrar_ == nullptr) return false;
  if (sip::transport::kind_of(source.protocol).reliable) return false;  // nothing is kept anyway
  const std::optional<registrar::Registrar::CopyKey> key = registrar_->copy_key(request, server_key);
  if (!key) return false;
  // Every answer to a REGISTER is made within this call (the registrar and the
  // authenticator answer at once), so the Reply may point at `source`.
  const sip::Reply to = sip::Reply::stateless(source, to_tag);
  if (auto copy = registrar_->answer_copy(request, *key)) {
    // A copy of one the registrar accepted: answered before authentication, since the
    // original used up its nonce count.
    network_.respond_with(to, request, std::move(*copy));
  } else {
    serve(to, request, source, &*key);
  }
  return true;
}

void ServerCore::on_request(sip::txn::ServerTransactionId id, const Message& request,
                            const sip::transport::Source& source) {
  serve(id, request, source, nullptr);
}

bool ServerCore::admissible(const sip::Reply& to, const Message& request, const sip::transport::Source& source) {
  if (throttle_ != nullptr) {
    if (auto wait = throttle_->source_blocked(source.remote_address)) {
      respond_throttled(to, request, "Too many failed attempts from this address", *wait);
      return false;
    }
  }
  // §8.2.2.1 / §16.3 step 1: a scheme Herald cannot route.
  if (!request.request_uri()->is_sip()) {
    network_.respond(to, request, 416, "Unsupported URI Scheme");
    return false;
  }
  // §16.3 step 3: no more hops.
  if (auto mf = request.get<sip::hdr::MaxForwards>(); mf.ok() && mf.value() == 0) {
    network_.respond(to, request, 483, "Too Many Hops");
    return false;
  }
  // §8.2.2.3 and §16.3 step 6 (Proxy-Require): extensions the request depends on.
  if (request.method() == Method::kCancel) return true;
  std::vector<std::string> unsupported;
  auto collect = [&](std::string_view tag) {
    bool known = std::any_of(capabilities_.supported.begin(), capabilities_.supported.end(),
                             [&](const std::string& s) { return sip::grammar::iequals(s, tag); });
    if (!known) unsupported.emplace_back(tag);
    return true;
  };
  request.for_each<sip::hdr::Require>(collect);
  request.for_each<sip::hdr::ProxyRequire>(collect);
  if (unsupported.empty()) return true;
  network_.respond(to, request, 420, "Bad Extension", {{HeaderId::kUnsupported, join(unsupported)}});
  return false;
}

void ServerCore::serve(const sip::Reply& to, const Message& request, const sip::transport::Source& source,
                       const registrar::Registrar::CopyKey* copy) {
  if (!admissible(to, request, source)) return;
  Sender sender = check_sender(to, request, source, /*always=*/false);
  if (sender == Sender::kRefused) return;
  // Only a REGISTER is answered without a transaction: what follows has one.
  const sip::txn::ServerTransactionId id = to.id();
  if (request.method() == Method::kSubscribe && notifier_ != nullptr && for_notifier(request)) {
    notifier_->handle_subscribe(id, request, source);
    return;
  }
  if (request.method() == Method::kPublish && presence_ != nullptr &&
      (proxy_ == nullptr || proxy_->is_me(request.request_uri().value()))) {
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
        sender = check_sender(to, request, source, /*always=*/true);
        if (sender == Sender::kRefused) return;
        may_relay = sender == Sender::kAuthenticated;
      }
    }
    proxy_->handle(id, request, source, may_relay);
    return;
  }
  serve_itself(to, request, source, copy);
}

void ServerCore::serve_itself(const sip::Reply& to, const Message& request, const sip::transport::Source& source,
                              const registrar::Registrar::CopyKey* copy) {
  switch (request.method()) {
    case Method::kOptions: {
      sip::ExtraHeaders extra = {
          {HeaderId::kAllow, allow_},
          {HeaderId::kAccept, join(capabilities_.accept)},
          {HeaderId::kSupported, join(capabilities_.supported)},
      };
      if (!capabilities_.events.empty()) extra.emplace_back(HeaderId::kAllowEvents, join(capabilities_.events));
      network_.respond(to, request, 200, "OK", extra);
      return;
    }
    case Method::kCancel: {
      // §9.2 / §16.10: 200 for the CANCEL when it matches a transaction. A proxied INVITE is
      // cancelled downstream and ends with its branches' answers; any other unanswered one
      // ends with 487 here.
      auto invite = layer_->find_invite_for_cancel(request);
      if (!invite) {
        network_.respond(to, request, 481, "Call/Transaction Does Not Exist");
        return;
      }
      network_.respond(to, request, 200, "OK");
      if (proxy_ != nullptr && proxy_->cancel(*invite)) return;
      if (const Message* original = layer_->request_of(*invite)) {
        network_.respond(*invite, *original, 487, "Request Terminated");
      }
      return;
    }
    case Method::kRegister:
      if (registrar_ != nullptr) {
        handle_register(to, request, source, copy);
        return;
      }
      network_.respond(to, request, 405, "Method Not Allowed", {{HeaderId::kAllow, allow_}});
      return;
    case Method::kOther:
      network_.respond(to, request, 501, "Not Implemented", {{HeaderId::kAllow, allow_}});
      return;
    default:
      network_.respond(to, request, 405, "Method Not Allowed", {{HeaderId::kAllow, allow_}});
      return;
  }
}

void ServerCore::respond_throttled(const sip::Reply& to, const Message& request, std::string_view reason,
                                   std::uint32_t retry_after) {
  // The throttle logged the block once (warn); each request refused under it is debug only.
  network_.respond_with(
      to, request,
      sip::response_for(request, 503, reason, {{HeaderId::kRetryAfter, std::to_string(retry_after)}}, tag_for(to)),
      /*routine=*/true);
}

void ServerCore::challenge(const sip::Reply& to, const Message& request, const auth::Verdict& verdict,
                           std::string_view realm, bool proxy) {
  // RFC 3261 §22.2 / §22.3. Unknown users and wrong passwords get the same answer.
  Message challenge = proxy ? sip::make_response(request, 407, "Proxy Authentication Required", tag_for(to))
                            : sip::make_response(request, 401, "Unauthorized", tag_for(to));
  challenge.remove(HeaderId::kContentLength);
  authenticator_->add_challenge(challenge, verdict.realm.empty() ? realm : std::string_view(verdict.realm),
                                verdict.stale_challenge(), proxy);
  challenge.append(HeaderId::kContentLength, "0");
  spdlog::debug("call-id={} {} challenged: {}", call_id_of(request), request.method_name(),
                auth::outcome_name(verdict.outcome));
  network_.respond_with(to, request, std::move(challenge));
}

ServerCore::Sender ServerCore::check_sender(const sip::Reply& to, const Message& request,
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
    network_.respond(to, request, 400, verdict.reason);
    return Sender::kRefused;
  }
  if (verdict.outcome == auth::Outcome::kThrottled) {
    respond_throttled(to, request, "Too many failed authentications for this account", verdict.retry_after);
    return Sender::kRefused;
  }
  if (!verdict.ok()) {
    challenge(to, request, verdict, from->uri.host, /*proxy=*/true);
    return Sender::kRefused;
  }
  // The credentials must be those of the From AOR.
  if ("sip:" + verdict.username + "@" + verdict.realm != sip::address_of_record(from->uri)) {
    network_.respond(to, request, 403, "Authenticated identity does not match From");
    return Sender::kRefused;
  }
  return Sender::kAuthenticated;
}

void ServerCore::handle_register(const sip::Reply& to, const Message& request, const sip::transport::Source& source,
                                 const registrar::Registrar::CopyKey* copy) {
  // RFC 3261 §10.3 step 5 / RFC 4475 §3.3.4: the To header holds the AOR, a SIP or SIPS URI.
  if (!request.get<sip::hdr::To>()->uri.is_sip()) {
    network_.respond(to, request, 400, "To must hold a SIP or SIPS URI");
    return;
  }
  std::optional<std::string> identity;
  if (authenticator_ != nullptr) {
    auth::Verdict verdict = authenticator_->verify(request, /*proxy=*/false, &source.remote_address);
    if (verdict.outcome == auth::Outcome::kMalformed) {
      network_.respond(to, request, 400, verdict.reason);
      return;
    }
    if (verdict.outcome == auth::Outcome::kThrottled) {
      respond_throttled(to, request, "Too many failed authentications for this account", verdict.retry_after);
      return;
    }
    if (!verdict.ok()) {
      challenge(to, request, verdict, request.request_uri()->host, /*proxy=*/false);
      return;
    }
    identity = "sip:" + verdict.username + "@" + verdict.realm;
  }
  network_.respond_with(to, request, registrar_->handle(request, source, identity, copy));
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

void ServerCore::serve_proxy(proxy::Proxy& proxy) { proxy_ = &proxy; }

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
