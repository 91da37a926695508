#include "client/registration.h"

#include <fmt/format.h>

#include <algorithm>

#include "sip/msg/headers.h"

namespace herald::client {
namespace {

// "sip:alice@example.com" → "sip:example.com": the registrar's Request-URI (RFC 3261 §10.2).
std::string domain_uri(std::string_view aor) {
  const auto at = aor.find('@');
  return at == std::string_view::npos ? std::string(aor) : "sip:" + std::string(aor.substr(at + 1));
}

}  // namespace

std::chrono::seconds refresh_delay(std::uint32_t granted) {
  const std::uint32_t early = granted >= 64 ? granted - 32 : granted / 2;
  return std::chrono::seconds(std::max<std::uint32_t>(early, 1));
}

std::optional<std::uint32_t> retry_expiry(const Outcome& o, std::uint32_t asked, bool retried) {
  if (retried || o.status() != 423) return std::nullopt;
  auto min = o.response.get<sip::hdr::MinExpires>();
  if (!min.ok() || *min <= asked) return std::nullopt;
  return *min;
}

Registration::Registration(UserAgent& ua, std::uint32_t expires)
    : ua_(ua), expires_(expires), leg_(ua.new_leg(ua.config().aor)), contact_(ua.contact_uri()) {
  leg_.target = domain_uri(ua.config().aor);
}

Registration::~Registration() { ua_.timers().cancel(refresh_); }

void Registration::start(Completion done) { send(expires_, false, std::move(done)); }

void Registration::stop(Completion done) {
  ua_.timers().cancel(refresh_);
  registered_ = false;
  send(0, true, std::move(done));
}

void Registration::send(std::uint32_t expires, bool retried, Completion done) {
  sip::Message request = ua_.new_request("REGISTER", leg_);
  request.append(sip::HeaderId::kContact, "<" + contact_ + ">");
  request.append(sip::HeaderId::kExpires, std::to_string(expires));
  std::weak_ptr<bool> alive = alive_;
  ua_.send(std::move(request), [this, alive, expires, retried, done = std::move(done)](const Outcome& o) {
    if (alive.expired()) return;
    leg_.cseq = std::max(leg_.cseq, o.cseq);
    if (auto longer = retry_expiry(o, expires, retried)) {
      expires_ = *longer;
      send(*longer, true, done);
      return;
    }
    if (expires != 0 && o.ok()) {
      registered_ = true;
      granted_ = granted_from(o.response, expires);
      schedule_refresh();
    }
    if (done) done(o);
  });
}

std::uint32_t Registration::granted_from(const sip::Message& response, std::uint32_t asked) const {
  // RFC 3261 §10.2.4: the 2xx lists every binding; ours carries the expiry granted.
  std::optional<std::uint32_t> granted;
  auto own = sip::parse_uri(contact_);
  response.for_each<sip::hdr::Contact>([&](const sip::ContactValue& c) {
    if (c.star || !own.ok() || !sip::uri_equal(c.address.uri, *own)) return true;
    granted = c.expires();
    return false;
  });
  if (!granted) {
    auto expires = response.get<sip::hdr::Expires>();
    if (expires.ok()) granted = *expires;
  }
  return granted.value_or(asked);
}

void Registration::schedule_refresh() {
  ua_.timers().cancel(refresh_);
  refresh_ = ua_.timers().schedule_after(refresh_delay(granted_), [this] {
    send(expires_, false, [this](const Outcome& o) {
      if (!o.ok()) {
        registered_ = false;
        if (on_lost_) on_lost_(o);
      }
    });
  });
}

}  // namespace herald::client
