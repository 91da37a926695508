#include "client/subscription.h"

#include <fmt/format.h>

#include <algorithm>

#include "client/registration.h"
#include "sip/msg/grammar.h"
#include "sip/msg/headers.h"

namespace herald::client {
namespace {

using sip::grammar::iequals;

// Reasons after which a new subscription may succeed (RFC 6665 §4.1.3).
bool resubscribe_now(std::string_view reason) { return reason == "deactivated" || reason == "timeout"; }
bool resubscribe_later(std::string_view reason) { return reason == "probation" || reason == "giveup"; }

}  // namespace

Subscription::Subscription(UserAgent& ua, std::string resource, std::string event, std::vector<std::string> accept,
                           std::uint32_t expires)
    : ua_(ua),
      resource_(std::move(resource)),
      event_(std::move(event)),
      accept_(std::move(accept)),
      expires_(expires),
      leg_(ua.new_leg(resource_)) {
  handler_ = ua_.add_handler(
      [this](sip::txn::ServerTransactionId id, const sip::Message& request) { return on_request(id, request); });
}

Subscription::~Subscription() {
  ua_.remove_handler(handler_);
  ua_.timers().cancel(timer_);
}

void Subscription::start(Completion done) { subscribe(false, std::move(done)); }

sip::Message Subscription::subscribe_request() {
  sip::Message request = ua_.new_request("SUBSCRIBE", leg_);
  std::string contact = "<";
  contact.append(ua_.contact_uri()).push_back('>');
  request.append(sip::HeaderId::kContact, contact);
  request.append(sip::HeaderId::kEvent, event_);
  for (const std::string& type : accept_) request.append(sip::HeaderId::kAccept, type);
  request.append(sip::HeaderId::kExpires, std::to_string(expires_));
  return request;
}

void Subscription::subscribe(bool retried, Completion done) {
  std::weak_ptr<bool> alive = alive_;
  ua_.send(subscribe_request(), [this, alive, retried, done = std::move(done)](const Outcome& o) {
    if (alive.expired()) return;
    leg_.cseq = std::max(leg_.cseq, o.cseq);
    if (auto longer = retry_expiry(o, expires_, retried)) {
      expires_ = *longer;
      subscribe(true, done);
      return;
    }
    if (o.ok()) {
      if (!established()) establish(o.response, true);
      auto granted = o.response.get<sip::hdr::Expires>();
      if (!stopping_ && !ended_) schedule_refresh(granted.ok() ? *granted : expires_);
    }
    if (done) done(o);
  });
}

void Subscription::establish(const sip::Message& message, bool from_response) {
  // RFC 3261 §12.1.2 (from the 2xx) and RFC 6665 §4.1.2.4 (from a NOTIFY that came first).
  auto remote = from_response ? message.get<sip::hdr::To>() : message.get<sip::hdr::From>();
  if (!remote.ok() || !remote->tag()) return;
  leg_.remote_tag = std::string(*remote->tag());
  std::vector<std::string> routes;
  message.for_each<sip::hdr::RecordRoute>([&](const sip::NameAddr& r) {
    routes.emplace_back(r.uri.text);
    return true;
  });
  if (from_response) std::reverse(routes.begin(), routes.end());
  leg_.route_set = std::move(routes);
  auto contact = message.get<sip::hdr::Contact>();
  if (contact.ok() && !contact->star) leg_.target = std::string(contact->address.uri.text);
}

bool Subscription::on_request(sip::txn::ServerTransactionId id, const sip::Message& request) {
  if (request.method() != sip::Method::kNotify) return false;
  auto call_id = request.get<sip::hdr::CallId>();
  auto to = request.get<sip::hdr::To>();
  auto from = request.get<sip::hdr::From>();
  if (!call_id.ok() || *call_id != leg_.call_id || !to.ok() || to->tag() != leg_.local_tag || !from.ok()) return false;
  if (established() && from->tag() != leg_.remote_tag) return false;
  auto event = request.get<sip::hdr::Event>();
  if (!event.ok() || !iequals(event->package, event_)) {
    ua_.respond(id, request, 489, "Bad Event");
    return true;
  }
  auto state = request.get<sip::hdr::SubscriptionState>();
  if (!state.ok()) {
    ua_.respond(id, request, 400, state.absent() ? "Missing Subscription-State header" : "Malformed Subscription-State");
    return true;
  }
  ua_.respond(id, request, 200, "OK");
  if (!established()) establish(request, false);

  Notification n;
  n.state = std::string(state->state);
  if (auto reason = state->reason()) n.reason = std::string(*reason);
  n.expires = state->expires();
  if (!request.body().empty()) {
    const sip::HeaderField* type = request.find(sip::HeaderId::kContentType);
    n.content_type = type != nullptr ? std::string(type->value) : std::string();
    n.body = std::string(request.body());
  }
  const bool terminated = iequals(n.state, "terminated");
  if (terminated) {
    ua_.timers().cancel(timer_);
    if (stopping_) {
      finish_stop();
    } else if (resubscribe_now(n.reason)) {
      again(std::chrono::seconds(0));
    } else if (resubscribe_later(n.reason)) {
      auto retry = state->retry_after();
      again(std::chrono::seconds(retry.value_or(10)));
    } else {
      ended_ = true;
    }
  } else if (n.expires && !stopping_) {
    schedule_refresh(*n.expires);
  }
  if (on_notify_) on_notify_(n);
  return true;
}

void Subscription::schedule_refresh(std::uint32_t seconds) {
  ua_.timers().cancel(timer_);
  timer_ = ua_.timers().schedule_after(refresh_delay(seconds), [this] { refresh(); });
}

void Subscription::refresh() {
  std::weak_ptr<bool> alive = alive_;
  ua_.send(subscribe_request(), [this, alive](const Outcome& o) {
    if (alive.expired() || stopping_) return;
    leg_.cseq = std::max(leg_.cseq, o.cseq);
    if (o.ok()) {
      auto granted = o.response.get<sip::hdr::Expires>();
      schedule_refresh(granted.ok() ? *granted : expires_);
    } else if (o.status() == 481) {
      again(std::chrono::seconds(0));  // the notifier forgot the dialog: a new subscription
    } else {
      ended_ = true;
      if (on_lost_) on_lost_(o);
    }
  });
}

void Subscription::again(std::chrono::seconds after) {
  ua_.timers().cancel(timer_);
  leg_ = ua_.new_leg(resource_);
  timer_ = ua_.timers().schedule_after(after, [this] {
    subscribe(false, [this](const Outcome& o) {
      if (!o.ok() && !stopping_) {
        ended_ = true;
        if (on_lost_) on_lost_(o);
      }
    });
  });
}

void Subscription::stop(std::function<void()> done, std::chrono::milliseconds wait) {
  stopping_ = true;
  stopped_ = std::move(done);
  ua_.timers().cancel(timer_);
  if (ended_ || !established()) {
    finish_stop();
    return;
  }
  sip::Message request = ua_.new_request("SUBSCRIBE", leg_);
  request.append(sip::HeaderId::kEvent, event_);
  request.append(sip::HeaderId::kExpires, "0");
  std::weak_ptr<bool> alive = alive_;
  ua_.send(std::move(request), [this, alive](const Outcome& o) {
    if (alive.expired()) return;
    if (!o.ok()) finish_stop();  // no final NOTIFY will come
  });
  timer_ = ua_.timers().schedule_after(wait, [this] { finish_stop(); });
}

void Subscription::finish_stop() {
  ended_ = true;
  ua_.timers().cancel(timer_);
  if (!stopped_) return;
  auto done = std::move(stopped_);
  stopped_ = nullptr;
  done();
}

}  // namespace herald::client
