#include "client/publication.h"

#include <algorithm>

#include "client/registration.h"
#include "sip/msg/headers.h"

namespace herald::client {

Publication::Publication(UserAgent& ua, std::string event, std::uint32_t expires)
    : ua_(ua), event_(std::move(event)), expires_(expires), leg_(ua.new_leg(ua.config().aor)) {}

Publication::~Publication() { ua_.timers().cancel(refresh_); }

void Publication::publish(std::string content_type, std::string body, Completion done) {
  content_type_ = std::move(content_type);
  body_ = std::move(body);
  send(etag_.empty() ? Kind::kInitial : Kind::kModify, expires_, false, std::move(done));
}

void Publication::remove(Completion done) {
  ua_.timers().cancel(refresh_);
  send(Kind::kRemove, 0, true, std::move(done));
}

void Publication::send(Kind kind, std::uint32_t expires, bool retried, Completion done) {
  sip::Message request = ua_.new_request("PUBLISH", leg_);
  request.append(sip::HeaderId::kEvent, event_);
  request.append(sip::HeaderId::kExpires, std::to_string(expires));
  if (kind != Kind::kInitial) request.append(sip::HeaderId::kSipIfMatch, etag_);
  if (kind == Kind::kInitial || kind == Kind::kModify) request.set_body(content_type_, body_);
  std::weak_ptr<bool> alive = alive_;
  ua_.send(std::move(request), [this, alive, kind, expires, retried, done = std::move(done)](const Outcome& o) {
    if (alive.expired()) return;
    leg_.cseq = std::max(leg_.cseq, o.cseq);
    if (o.status() == 412 && kind != Kind::kRemove && !retried) {
      etag_.clear();  // the server forgot it (expired, restarted): publish anew
      send(Kind::kInitial, expires, true, done);
      return;
    }
    if (auto longer = retry_expiry(o, expires, retried)) {
      expires_ = *longer;
      send(kind, *longer, true, done);
      return;
    }
    if (kind == Kind::kRemove) {
      etag_.clear();
    } else if (o.ok()) {
      auto tag = o.response.get<sip::hdr::SipETag>();
      if (tag.ok()) etag_ = std::string(*tag);
      auto granted = o.response.get<sip::hdr::Expires>();
      granted_ = granted.ok() ? *granted : expires;
      schedule_refresh();
    }
    if (done) done(o);
  });
}

void Publication::schedule_refresh() {
  ua_.timers().cancel(refresh_);
  refresh_ = ua_.timers().schedule_after(refresh_delay(granted_), [this] {
    send(Kind::kRefresh, expires_, false, [this](const Outcome& o) {
      if (!o.ok() && on_lost_) on_lost_(o);
    });
  });
}

}  // namespace herald::client
