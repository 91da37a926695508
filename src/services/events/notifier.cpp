#include "services/events/notifier.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cassert>

#include "services/events/notifier_entry.h"
#include "services/events/notify_request.h"
#include "services/events/subscribe_request.h"
#include "services/proxy/flow.h"
#include "sip/msg/grammar.h"
#include "sip/stack/owner.h"

namespace herald::services::events {
namespace {

using sip::HeaderId;
using sip::Message;
using sip::transport::Destination;
using sip::transport::Protocol;

// NOTIFY CSeq numbers are reserved in the store this many at a time: one write per 64
// NOTIFYs of a subscription instead of one per NOTIFY, and after a crash the numbers go on
// from the stored ceiling, above every one sent before.
constexpr std::uint32_t kCSeqBlock = 64;

// RFC 3261 §18.1.1: a request larger than this goes over a congestion-controlled transport
// when the path MTU is not known.
constexpr std::size_t kUdpLimit = 1300;

std::string_view value_of(const Message& m, HeaderId id) {
  const sip::HeaderField* f = m.find(id);
  return f ? f->value : std::string_view();
}

std::string join(const std::vector<std::string>& items) { return fmt::format("{}", fmt::join(items, ", ")); }

}  // namespace

std::string_view to_string(State state) {
  switch (state) {
    case State::kPending:
      return "pending";
    case State::kActive:
      return "active";
    case State::kTerminated:
      return "terminated";
  }
  return "terminated";
}

std::string_view to_string(Reason reason) {
  switch (reason) {
    case Reason::kDeactivated:
      return "deactivated";
    case Reason::kProbation:
      return "probation";
    case Reason::kRejected:
      return "rejected";
    case Reason::kTimeout:
      return "timeout";
    case Reason::kGiveup:
      return "giveup";
    case Reason::kNoresource:
      return "noresource";
  }
  return "noresource";
}

Notifier::Notifier(NotifierConfig config, sip::txn::TransactionLayer& layer, sip::txn::TimerService& timers,
                   sip::Network& network, sip::transport::HostsFile hosts, store::SubscriptionStore* store,
                   Clock now)
    : config_(std::move(config)),
      layer_(layer),
      timers_(timers),
      network_(network),
      hosts_(std::move(hosts)),
      store_(store),
      now_(std::move(now)),
      random_(std::random_device{}()) {}

Notifier::~Notifier() {
  for (auto& [id, e] : entries_) timers_.cancel(e->expiry);
}

void Notifier::add_package(Package& package) {
  auto slot = std::make_unique<PackageSlot>();
  slot->package = &package;
  slot->name = std::string(package.name());
  for (char& c : slot->name) c = sip::grammar::to_lower(c);
  assert(slot_named(slot->name) == nullptr && "a package is added once");
  packages_.push_back(std::move(slot));
  allow_events_ = join(events());
}

std::vector<std::string> Notifier::events() const {
  std::vector<std::string> names;
  names.reserve(packages_.size());
  for (const auto& slot : packages_) names.push_back(slot->name);
  return names;
}

Notifier::PackageSlot* Notifier::slot_named(std::string_view name) const {
  for (const auto& slot : packages_) {
    if (sip::grammar::iequals(slot->name, name)) return slot.get();
  }
  return nullptr;
}

Package* Notifier::package_of(const Message& request) const {
  auto event = request.get<sip::hdr::Event>();
  if (!event.ok()) return nullptr;
  PackageSlot* slot = slot_named(event->package);
  return slot != nullptr ? slot->package : nullptr;
}

bool Notifier::has_dialog(const Message& subscribe) const {
  auto to = subscribe.get<sip::hdr::To>();
  auto from = subscribe.get<sip::hdr::From>();
  auto event = subscribe.get<sip::hdr::Event>();
  if (!to.ok() || !to->tag() || !from.ok() || !event.ok()) return false;
  PackageSlot* slot = slot_named(event->package);
  if (slot == nullptr) return false;
  return by_key_.contains(subscription_key(value_of(subscribe, HeaderId::kCallId), *to->tag(), from->tag().value_or(""),
                                   slot->name, event->id().value_or("")));
}

std::size_t Notifier::size() const { return by_key_.size(); }

void Notifier::presize(std::size_t buckets) {
  entries_.max_load_factor(4.0F);
  entries_.rehash(buckets);
  by_key_.max_load_factor(4.0F);
  by_key_.rehash(buckets);
}

// ---- the index

Notifier::Watchers* Notifier::watchers_of(std::string_view package, std::string_view resource) const {
  PackageSlot* slot = slot_named(package);
  if (slot == nullptr) return nullptr;
  auto found = slot->resources.find(resource);
  return found == slot->resources.end() ? nullptr : &found->second;
}

template <class F>
void Notifier::walk(Watchers& watchers, F&& f) {
  ++watchers.walks;
  // By index: entries added meanwhile (vector growth) are fine, ended ones are null.
  for (std::size_t i = 0; i < watchers.entries.size(); ++i) {
    if (Entry* e = watchers.entries[i]) f(*e);
  }
  --watchers.walks;
}

void Notifier::add_to_index(Entry& e) {
  by_key_.emplace(e.s.key, &e);
  auto found = e.slot->resources.find(e.s.resource);
  if (found == e.slot->resources.end()) found = e.slot->resources.emplace(e.s.resource, Watchers{}).first;
  Watchers& w = found->second;
  e.watchers = &w;
  e.position = w.entries.size();
  w.entries.push_back(&e);
  ++w.live;
  if (e.s.state == State::kPending) ++w.pending;
  count(e, +1);
}

void Notifier::remove_from_index(Entry& e) {
  by_key_.erase(e.s.key);
  count(e, -1);
  if (e.watchers == nullptr) return;
  Watchers& w = *e.watchers;
  w.entries[e.position] = nullptr;
  --w.live;
  if (e.s.state == State::kPending && w.pending > 0) --w.pending;
  e.watchers = nullptr;
  tidy(*e.slot, w, e.s.resource);
}

void Notifier::tidy(PackageSlot& slot, Watchers& watchers, const std::string& resource) {
  if (watchers.walks > 0) return;
  if (watchers.live == 0) {
    if (auto found = slot.resources.find(resource); found != slot.resources.end()) slot.resources.erase(found);
    return;
  }
  if (watchers.entries.size() - watchers.live <= watchers.live) return;
  std::size_t next = 0;
  for (Entry* e : watchers.entries) {
    if (e == nullptr) continue;
    e->position = next;
    watchers.entries[next++] = e;
  }
  watchers.entries.resize(next);
}

Notifier::Entry* Notifier::live_entry(std::uint64_t entry_id) const {
  auto found = entries_.find(entry_id);
  return found == entries_.end() || found->second->ended ? nullptr : found->second.get();
}

std::vector<const Subscription*> Notifier::subscriptions(std::string_view package, std::string_view resource) const {
  std::vector<const Subscription*> out;
  const Watchers* w = watchers_of(package, resource);
  if (w == nullptr) return out;
  out.reserve(w->live);
  for (const Entry* e : w->entries) {
    if (e != nullptr && e->s.state != State::kTerminated) out.push_back(&e->s);
  }
  return out;
}

std::size_t Notifier::count(std::string_view package, std::string_view resource) const {
  const Watchers* w = watchers_of(package, resource);
  return w == nullptr ? 0 : w->live;
}

std::vector<std::string> Notifier::resources(std::string_view package) const {
  std::vector<std::string> out;
  const PackageSlot* slot = slot_named(package);
  if (slot == nullptr) return out;
  for (const auto& [resource, w] : slot->resources) {
    if (w.live > 0) out.push_back(resource);
  }
  return out;
}

// ---- SUBSCRIBE

void Notifier::handle_subscribe(sip::txn::ServerTransactionId id, const Message& request,
                                const sip::transport::Source& source) {
  ++counters_.subscribes;
  auto event = request.get<sip::hdr::Event>();
  if (event.malformed()) {
    network_.respond(id, request, 400, "Malformed Event header");
    return;
  }
  PackageSlot* slot = event.ok() ? slot_named(event->package) : nullptr;
  if (slot == nullptr) {
    network_.respond(id, request, 489, "Bad Event", {{HeaderId::kAllowEvents, allow_events_}}, {});
    return;
  }
  auto to = request.get<sip::hdr::To>();
  auto from = request.get<sip::hdr::From>();
  auto cseq = request.get<sip::hdr::CSeq>();
  if (!to.ok() || !from.ok() || !cseq.ok() || value_of(request, HeaderId::kCallId).empty()) {
    network_.respond(id, request, 400, "Malformed From, To, Call-ID or CSeq");  // check_request() stops these
    return;
  }
  auto expires = request.get<sip::hdr::Expires>();
  if (expires.malformed()) {
    network_.respond(id, request, 400, "Malformed Expires header");
    return;
  }
  const std::string_view event_id = event->id().value_or("");

  Entry* existing = nullptr;
  if (auto tag = to->tag()) {
    // RFC 6665 §4.1.2: in a dialog, the package and id name the subscription. A SUBSCRIBE in
    // one of Herald's dialogs naming another one is not taken as a new usage of the dialog
    // (RFC 5057 advises against them): 481 like any unknown subscription.
    auto found = by_key_.find(
        subscription_key(value_of(request, HeaderId::kCallId), *tag, from->tag().value_or(""), slot->name, event_id));
    if (found == by_key_.end()) {
      network_.respond(id, request, 481, "Subscription Does Not Exist");
      return;
    }
    existing = found->second;
    Subscription& s = existing->s;
    if (cseq->number <= s.remote_cseq) {  // RFC 3261 §12.2.2
      network_.respond(id, request, 500, "CSeq out of order");
      return;
    }
    s.remote_cseq = cseq->number;
  }

  // RFC 6665 §4.2.1.1: the granted duration; 423 below the minimum (0 ends or fetches).
  const auto requested = static_cast<std::uint32_t>(expires.ok() ? expires.value() : config_.default_expires.count());
  if (requested != 0 && requested < config_.min_expires.count()) {
    network_.respond(id, request, 423, "Interval Too Brief",
               {{HeaderId::kMinExpires, std::to_string(config_.min_expires.count())}}, {});
    return;
  }
  const auto granted = std::min<std::uint32_t>(requested, static_cast<std::uint32_t>(config_.max_expires.count()));

  if (existing != nullptr) {
    handle_in_dialog(id, request, source, *existing, granted);
  } else {
    handle_initial(id, request, source, *slot, event_id, granted);
  }
}

void Notifier::answer_ok(sip::txn::ServerTransactionId id, const Message& request, const Subscription& s,
                         std::uint32_t granted) {
  network_.respond(id, request, 200, "OK",
             {{HeaderId::kExpires, std::to_string(granted)}, {HeaderId::kContact, contact_value(!s.flow.empty())}},
             s.local_tag);
}

void Notifier::handle_in_dialog(sip::txn::ServerTransactionId id, const Message& request,
                                const sip::transport::Source& source, Entry& e, std::uint32_t granted) {
  Subscription& s = e.s;
  // RFC 6665 §4.1.2.1: a refresh is a target refresh; the Contact, when present, moves the
  // remote target. A refresh over another connection moves the flow.
  if (auto contact = request.get<sip::hdr::Contact>(); contact.ok() && !contact->star &&
                                                          contact->address.uri.is_sip() &&
                                                          contact->address.uri.text != s.remote_target) {
    s.remote_target = std::string(contact->address.uri.text);
    e.next_hop.reset();
  }
  if (std::string flow = proxy::flow_text(source); flow != s.flow) {
    s.flow = std::move(flow);
    e.flow.reset();
  }
  if (granted == 0) {
    spdlog::info("call-id={} {} subscription of {} to {} ended by the subscriber", s.call_id, s.package, s.watcher,
                 s.resource);
    answer_ok(id, request, s, 0);
    end(e, Reason::kTimeout, true);
    return;
  }
  if (s.state == State::kPending) {
    granted = std::min<std::uint32_t>(granted, static_cast<std::uint32_t>(config_.pending_expires.count()));
  }
  s.expires_at = now_() + granted;
  arm_expiry(e);
  answer_ok(id, request, s, granted);
  persist(e);
  spdlog::debug("call-id={} {} subscription of {} to {} refreshed for {} s", s.call_id, s.package, s.watcher,
                s.resource, granted);
  changed(e);  // RFC 6665 §4.2.1.2: a NOTIFY with the current state follows every 200
}

void Notifier::handle_initial(sip::txn::ServerTransactionId id, const Message& request,
                              const sip::transport::Source& source, PackageSlot& slot, std::string_view event_id,
                              std::uint32_t granted) {
  if (!request.request_uri().ok() || !request.request_uri()->is_sip()) {
    network_.respond(id, request, 416, "Unsupported URI Scheme");
    return;
  }
  const sip::Uri& request_uri = request.request_uri().value();
  // RFC 3261 §8.1.1.8, RFC 6665 §4.1.2.1: a SUBSCRIBE that creates a dialog carries a Contact
  // with one SIP or SIPS URI, the remote target of every NOTIFY.
  auto contact = request.get<sip::hdr::Contact>();
  if (contact.absent()) {
    network_.respond(id, request, 400, "Missing Contact header");
    return;
  }
  if (!contact.ok() || contact->star || !contact->address.uri.is_sip()) {
    network_.respond(id, request, 400, "Contact must be one SIP or SIPS URI");
    return;
  }
  const std::vector<std::string> types = slot.package->content_types();
  BodyTypeChoice negotiation = choose_body_type(request, types);
  if (!negotiation.malformed.empty()) {
    network_.respond(id, request, 400, "Malformed Accept header");
    return;
  }
  if (!negotiation.type) {
    network_.respond(id, request, 406, "Not Acceptable", {{HeaderId::kAccept, join(types)}}, {});
    return;
  }

  auto to = request.get<sip::hdr::To>();
  auto from = request.get<sip::hdr::From>();
  Entry fresh;
  Subscription& s = fresh.s;
  s.package = slot.name;
  s.event_id = std::string(event_id);
  s.resource = sip::address_of_record(request_uri);
  s.watcher = sip::address_of_record(from->uri);
  if (s.watcher.empty()) s.watcher = std::string(from->uri.text);  // a tel: or other URI
  s.watcher_display = std::string(from->display_name);
  s.call_id = std::string(value_of(request, HeaderId::kCallId));
  // The resource's slot in the tag: the dialog's later requests reach its owner shard.
  s.local_tag = sip::slot_tag(sip::slot_of(s.resource), random_());
  s.remote_tag = std::string(from->tag().value_or(""));
  s.key = subscription_key(s.call_id, s.local_tag, s.remote_tag, s.package, s.event_id);
  s.local_uri = std::string(to->uri.text);
  s.remote_uri = std::string(from->uri.text);
  s.remote_target = std::string(contact->address.uri.text);
  request.for_each<sip::hdr::RecordRoute>([&](const sip::NameAddr& route) {
    s.route_set.emplace_back(route.uri.text);
    return true;
  });
  s.flow = proxy::flow_text(source);
  s.content_type = std::move(*negotiation.type);
  s.remote_cseq = request.get<sip::hdr::CSeq>()->number;
  s.expires_at = now_() + granted;
  s.state = State::kPending;

  if (std::optional<Refusal> refusal = slot.package->admit(request, s)) {
    spdlog::info("call-id={} {} subscription of {} to {} refused: {} {}", s.call_id, s.package, s.watcher,
                 s.resource, refusal->code, refusal->reason);
    network_.respond(id, request, refusal->code, refusal->reason, refusal->headers, {});
    if (refusal->code == 404 && unknown_resource_) unknown_resource_(source);
    return;
  }
  s.state = slot.package->authorize(s);
  fresh.slot = &slot;
  if (granted != 0 && s.state != State::kTerminated) {
    if (const auto why = over_limit(s, slot, source)) {
      ++counters_.refused_limit;
      spdlog::info("call-id={} {} subscription of {} to {} from {} refused: {}", s.call_id, s.package, s.watcher,
                   s.resource, source.remote_address, *why);
      network_.respond(id, request, 503, *why, {{HeaderId::kRetryAfter, "60"}}, {});
      return;
    }
    if (s.state == State::kPending && granted > config_.pending_expires.count()) {
      granted = static_cast<std::uint32_t>(config_.pending_expires.count());  // pending costs little and ends soon
      s.expires_at = now_() + granted;
    }
    if (!trusted(source.remote_address)) fresh.source = sip::transport::source_key(source.remote_address);
  }

  if (granted == 0 || s.state == State::kTerminated) {
    // A fetch (RFC 6665 §4.4.3) or a rejection (§4.2.1.1): one NOTIFY that ends it; nothing kept.
    const bool rejected = s.state == State::kTerminated;
    answer_ok(id, request, s, 0);
    fresh.ended = true;
    fresh.final_reason = rejected ? Reason::kRejected : Reason::kTimeout;
    fresh.final_body = s.state == State::kActive;
    s.state = State::kTerminated;
    s.expires_at = now_();
    spdlog::info("call-id={} {} {} of {} to {}", s.call_id, s.package, rejected ? "subscription rejected" : "fetch",
                 s.watcher, s.resource);
    if (!send_notify(fresh)) ++counters_.notifies_failed;
    slot.package->on_change(s, fresh.final_reason);
    return;
  }

  auto owned = std::make_unique<Entry>(std::move(fresh));
  Entry& e = *owned;
  e.id = next_id_++;
  entries_.emplace(e.id, std::move(owned));
  add_to_index(e);
  arm_expiry(e);
  ++counters_.created;
  answer_ok(id, request, e.s, granted);
  if (store_ != nullptr) {
    e.cseq_ceiling = 1 + kCSeqBlock;  // reserved with the first write
    persist(e);
  }
  spdlog::info("call-id={} {} subscription of {} to {} created ({}, {} s)", e.s.call_id, e.s.package, e.s.watcher,
               e.s.resource, to_string(e.s.state), granted);
  const std::uint64_t entry_id = e.id;
  send_current(e);
  if (Entry* live = live_entry(entry_id)) live->slot->package->on_change(live->s, std::nullopt);
}

// ---- NOTIFY

void Notifier::changed(Entry& e) {
  if (e.ended) return;
  if (e.in_flight) {
    if (e.dirty) ++counters_.notifies_superseded;
    e.dirty = true;
    return;
  }
  send_current(e);
}

void Notifier::send_current(Entry& e) {
  if (send_notify(e)) return;
  ++counters_.notifies_failed;
  end(e, Reason::kGiveup, false);
}

bool Notifier::send_notify(Entry& e) {
  Subscription& s = e.s;
  // Where it goes: over the subscriber's connection while it is open and no proxy is on the
  // route (RFC 5626 §5.3 in spirit), else to the first route or the remote target (RFC 3263).
  std::optional<Destination> destination;
  if (s.route_set.empty() && !s.flow.empty()) {
    if (!e.flow) e.flow = proxy::flow_of(s.flow);
    if (e.flow && network_.connection_open(e.flow->address, e.flow->port)) destination = e.flow;
  }
  if (!destination) {
    if (!e.next_hop) {
      const std::string& next = s.route_set.empty() ? s.remote_target : s.route_set.front();
      auto uri = sip::parse_uri(next);
      sip::transport::Resolution resolution;
      if (uri.ok()) resolution = sip::transport::resolve(uri.value(), hosts_);
      if (resolution.destinations.empty()) {
        spdlog::info("call-id={} no NOTIFY to {}: {}", s.call_id, next,
                     uri.ok() ? std::string_view(resolution.error) : uri.why());
        return false;
      }
      e.next_hop = resolution.destinations.front();
    }
    destination = e.next_hop;
  }

  const std::uint32_t cseq = s.local_cseq + 1;
  if (!e.ended && cseq >= e.cseq_ceiling) {
    e.cseq_ceiling = cseq + kCSeqBlock;
    persist(e);  // before the first number of the new block goes out
  }
  std::optional<Body> body;
  if (e.ended ? e.final_body : s.state == State::kActive) body = e.slot->package->body_for(s);

  const std::string contact = contact_value(!s.flow.empty());
  const std::string branch = layer_.new_branch();
  if (e.force_udp) destination->protocol = Protocol::kUdp;  // TCP was refused: §18.1.1's fallback
  const std::string via = network_.via(destination->protocol, branch);
  NotifyParts parts;
  parts.cseq = cseq;
  parts.state = s.state;
  if (e.ended) parts.reason = e.final_reason;
  parts.expires_in = s.expires_at - now_();
  parts.via = via;
  parts.contact = contact;
  parts.body = body ? &*body : nullptr;
  Message notify = notify_request(s, parts);
  if (!notify.request_uri().ok()) {
    spdlog::error("call-id={} NOTIFY not sent: the dialog's remote target is no URI ({})", s.call_id,
                  notify.request_uri().why());
    return false;
  }
  // RFC 3261 §18.1.1: a request over 1300 bytes (the path MTU being unknown) goes over TCP,
  // to the same address, with the top Via saying so.
  e.over_tcp = false;
  if (!sip::transport::kind_of(destination->protocol).reliable && !e.force_udp &&
      sip::serialized_size(notify) > kUdpLimit) {
    destination->protocol = Protocol::kTcp;
    destination->connection.reset();
    e.over_tcp = true;
    notify.pop_first_value(HeaderId::kVia);
    notify.prepend(HeaderId::kVia, network_.via(Protocol::kTcp, branch));
  }
  switch (admit_notify(e, *destination)) {
    case Admission::kGo:
      break;
    case Admission::kHeld:
      e.in_flight = true;  // changes meanwhile are coalesced; it goes when the destination answers
      e.dirty = false;
      return true;
    case Admission::kUnresponsive:
      ++counters_.unresponsive_ended;
      spdlog::info("call-id={} NOTIFY to {} not sent: it has not answered a NOTIFY lately", s.call_id,
                   destination->address);
      return false;
  }
  if (e.over_tcp) ++counters_.notifies_over_tcp;

  sip::txn::ClientCallbacks callbacks;
  const std::uint64_t entry_id = e.id;
  const std::optional<sip::transport::SourceKey> dest = e.dest;
  const bool over_tcp = e.over_tcp;
  callbacks.on_response = [this, entry_id, dest](const Message& response) {
    if (response.status_code() < 200) return;
    if (dest) notify_ended(*dest, Outcome::kAnswered);
    on_notify_done(entry_id, Outcome::kAnswered, response.status_code());
  };
  callbacks.on_timeout = [this, entry_id, dest] {
    if (dest) notify_ended(*dest, Outcome::kTimedOut);
    on_notify_done(entry_id, Outcome::kTimedOut, 408);
  };
  callbacks.on_transport_error = [this, entry_id, dest, over_tcp](const boost::system::error_code& ec) {
    spdlog::debug("NOTIFY transport error: {}", ec.message());
    const bool refused = ec == boost::asio::error::connection_refused || ec == boost::asio::error::connection_reset;
    if (dest) {
      if (refused && over_tcp) {
        forget_in_flight(*dest);  // TCP refused is no sign of an unresponsive peer: UDP follows
      } else {
        notify_ended(*dest, Outcome::kTransportFailed);
      }
    }
    on_notify_done(entry_id, Outcome::kTransportFailed, 503, refused);
  };
  s.local_cseq = cseq;
  e.in_flight = true;
  e.dirty = false;
  if (spdlog::should_log(spdlog::level::debug)) {  // the address is formatted only when logged
    spdlog::debug("call-id={} NOTIFY {} CSeq {} to {}:{} ({})", s.call_id, s.package, cseq,
                  destination->address.to_string(), destination->port,
                  e.ended ? to_string(e.final_reason) : to_string(s.state));
  }
  ++counters_.notifies_sent;
  if (layer_.send_request(notify, *destination, std::move(callbacks)) == 0) {
    --counters_.notifies_sent;
    e.in_flight = false;
    if (dest) forget_in_flight(*dest);  // nothing went out
    spdlog::error("call-id={} NOTIFY not sent: no client transaction", s.call_id);
    return false;
  }
  return true;  // `e` may be gone already
}

void Notifier::on_notify_done(std::uint64_t entry_id, Outcome outcome, int code, bool refused) {
  const bool ok = outcome == Outcome::kAnswered && code < 300;
  if (!ok) ++counters_.notifies_failed;
  auto found = entries_.find(entry_id);
  if (found == entries_.end()) return;  // a fetch's or a rejection's NOTIFY, or one no longer wanted
  Entry& e = *found->second;
  e.in_flight = false;
  e.dest.reset();
  // RFC 3261 §18.1.1: a NOTIFY sent over TCP for its size whose connection was refused or
  // reset is sent again over UDP; if UDP will not carry it either, that failure ends it.
  if (outcome == Outcome::kTransportFailed && refused && e.over_tcp) {
    spdlog::info("call-id={} NOTIFY too large for UDP: TCP refused, sent over UDP", e.s.call_id);
    e.force_udp = true;
    e.over_tcp = false;
    e.dirty = false;
    if (e.ended) {
      e.final_pending = true;
      finish(e);
    } else {
      send_current(e);
    }
    return;
  }
  if (outcome == Outcome::kTransportFailed && e.force_udp) {
    spdlog::warn("call-id={} NOTIFY to {} could not be sent: too large for UDP, and TCP was refused", e.s.call_id,
                 e.s.remote_target);
  }
  e.force_udp = false;
  // RFC 6665 §4.2.2: a NOTIFY that times out (408, Timer F) or fails in transport ends the
  // subscription (giveup: Herald gave up reaching the subscriber); a 481 says the subscriber
  // holds no such subscription any more (deactivated: it may subscribe again at once). Other
  // failures leave it as it is.
  std::optional<Reason> fatal;
  if (outcome != Outcome::kAnswered || code == 408) {
    fatal = Reason::kGiveup;
  } else if (code == 481) {
    fatal = Reason::kDeactivated;
  }
  if (!ok) {
    spdlog::info("call-id={} NOTIFY failed: {}{}", e.s.call_id,
                 outcome == Outcome::kTimedOut         ? std::string("timeout")
                 : outcome == Outcome::kTransportFailed ? std::string("transport error")
                                                        : std::to_string(code),
                 fatal && !e.ended ? "; subscription ended" : "");
  }
  if (e.ended) {
    if (fatal) e.final_pending = false;
    finish(e);
    return;
  }
  if (fatal) {
    end(e, *fatal, false);
    return;
  }
  if (e.dirty) send_current(e);
}

// ---- ending

void Notifier::end(Entry& e, Reason reason, bool final_notify) {
  if (e.ended) return;
  if (e.dirty) ++counters_.notifies_superseded;  // the final NOTIFY replaces it
  e.dirty = false;
  const bool was_active = e.s.state == State::kActive;
  timers_.cancel(e.expiry);
  remove_from_index(e);
  unpersist(e);
  e.ended = true;
  e.final_pending = final_notify;
  e.final_reason = reason;
  e.final_body = was_active && reason == Reason::kTimeout;  // rejected and pending ones carry none
  e.s.state = State::kTerminated;
  ++counters_.terminated;
  spdlog::info("call-id={} {} subscription of {} to {} ended: {}", e.s.call_id, e.s.package, e.s.watcher,
               e.s.resource, to_string(reason));
  const std::uint64_t entry_id = e.id;
  e.slot->package->on_change(e.s, reason);
  auto found = entries_.find(entry_id);
  if (found == entries_.end() || found->second->in_flight) return;  // the answer sends the final one
  finish(*found->second);
}

void Notifier::finish(Entry& e) {
  if (e.final_pending) {
    e.final_pending = false;
    if (send_notify(e)) return;  // destroyed when answered
    ++counters_.notifies_failed;
  }
  entries_.erase(e.id);
}

// ---- for packages

void Notifier::notify(std::string_view package, std::string_view resource) {
  Watchers* w = watchers_of(package, resource);
  if (w == nullptr) return;
  PackageSlot& slot = *slot_named(package);
  const std::string key(resource);  // `resource` may view a subscription that ends meanwhile
  walk(*w, [&](Entry& e) {
    if (e.s.state == State::kActive) changed(e);
  });
  tidy(slot, *w, key);
}

void Notifier::reauthorize(std::string_view package, std::string_view resource) {
  Watchers* w = watchers_of(package, resource);
  if (w == nullptr) return;
  PackageSlot& slot = *slot_named(package);
  const std::string key(resource);
  walk(*w, [&](Entry& e) {
    const State next = slot.package->authorize(e.s);
    if (next != e.s.state) apply_authorization(e, next);
  });
  tidy(slot, *w, key);
}

void Notifier::apply_authorization(Entry& e, State next) {
  if (next == State::kTerminated) {
    end(e, Reason::kRejected, true);
    return;
  }
  spdlog::info("call-id={} {} subscription of {} to {} now {}", e.s.call_id, e.s.package, e.s.watcher, e.s.resource,
               to_string(next));
  if (e.watchers != nullptr) {
    if (e.s.state == State::kPending && e.watchers->pending > 0) --e.watchers->pending;
    if (next == State::kPending) ++e.watchers->pending;
  }
  e.s.state = next;
  persist(e);
  const std::uint64_t entry_id = e.id;
  changed(e);
  if (Entry* live = live_entry(entry_id)) live->slot->package->on_change(live->s, std::nullopt);
}

// ---- expiry

void Notifier::arm_expiry(Entry& e) {
  timers_.cancel(e.expiry);
  const std::int64_t left = std::max<std::int64_t>(e.s.expires_at - now_(), 0);
  const std::uint64_t entry_id = e.id;
  e.expiry = timers_.schedule_after(std::chrono::seconds(left), [this, entry_id] { on_expiry(entry_id); });
}

void Notifier::on_expiry(std::uint64_t entry_id) {
  Entry* e = live_entry(entry_id);
  if (e == nullptr) return;
  if (now_() < e->s.expires_at) {  // the two clocks drifted apart: wait for the rest
    arm_expiry(*e);
    return;
  }
  end(*e, Reason::kTimeout, true);
}

// ---- small helpers

std::string Notifier::contact_value(bool tcp) const {
  const Protocol protocol = tcp ? Protocol::kTcp : Protocol::kUdp;
  return fmt::format("<sip:{}{}>", network_.sent_by_or_udp(protocol), sip::transport::uri_transport_param(protocol));
}


}  // namespace herald::services::events
