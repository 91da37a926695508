#include "services/presence/presence_agent.h"

#include <fmt/format.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <unordered_set>

#include "sip/msg/grammar.h"

namespace herald::services::presence {
namespace {

using sip::HeaderId;
using sip::Message;

constexpr std::string_view kPresence = "presence";
constexpr std::string_view kWinfo = "presence.winfo";
constexpr std::string_view kAcceptedTypes = "application/pidf+xml, application/cpim-pidf+xml";

std::string_view call_id_of(const Message& m) {
  const sip::HeaderField* f = m.find(HeaderId::kCallId);
  return f ? f->value : std::string_view();
}

std::size_t index_of(PidfFlavor flavor) { return flavor == PidfFlavor::kPidf ? 0 : 1; }

// RFC 3858 §5.4 wants a watcher id unique per subscription and stable across documents;
// the subscription key itself would show the presentity the watcher's dialog identifiers.
// A hash of the key: stable across restarts, unique enough for one resource's list.
std::string watcher_id(std::string_view key) { return fmt::format("{:016x}", sip::grammar::hash64(key)); }

events::State state_for(Action action) {
  switch (action) {
    case Action::kAllow:
    case Action::kPoliteBlock:
      return events::State::kActive;
    case Action::kConfirm:
      return events::State::kPending;
    case Action::kBlock:
      return events::State::kTerminated;
  }
  return events::State::kPending;
}

// The expiry a PUBLISH is granted (RFC 3903 §6), into `expires`: its Expires bounded by
// the configuration. The refusal when it is malformed or too brief.
std::optional<events::Refusal> publish_expires(const Message& request, const PresenceConfig& config,
                                               std::int64_t& expires) {
  expires = config.publish_default_expires.count();
  if (const auto e = request.get<sip::hdr::Expires>(); e.ok()) {
    expires = e.value();
  } else if (e.malformed()) {
    return events::Refusal{400, "Malformed Expires header", {}};
  }
  if (expires != 0 && expires < config.publish_min_expires.count()) {
    return events::Refusal{423, "Interval Too Brief",
                           {{HeaderId::kMinExpires, std::to_string(config.publish_min_expires.count())}}};
  }
  expires = std::min<std::int64_t>(expires, config.publish_max_expires.count());
  return std::nullopt;
}

// The presence document in a PUBLISH's body (RFC 3903 §6), into `document`; none when the
// body is empty, which only a refresh may send (`conditional`: its SIP-If-Match names a
// live publication). The refusal when a document is missing or not one Herald takes.
std::optional<events::Refusal> publish_document(const Message& request, const std::string& presentity,
                                                bool conditional, const PresenceConfig& config,
                                                std::optional<PresenceDocument>& document) {
  if (request.body().empty()) {
    if (!conditional) return events::Refusal{400, "PUBLISH without SIP-If-Match needs a body", {}};
    return std::nullopt;
  }
  const sip::HeaderField* type = request.find(HeaderId::kContentType);
  if (type == nullptr || !flavor_of(type->value)) {
    return events::Refusal{415, "Unsupported Media Type", {{HeaderId::kAccept, std::string(kAcceptedTypes)}}};
  }
  if (request.body().size() > config.max_document_bytes) {
    return events::Refusal{413, fmt::format("Presence document larger than {} bytes", config.max_document_bytes), {}};
  }
  auto parsed = parse_pidf(request.body(), presentity, config.document_limits);
  if (!parsed.ok()) {
    if (parsed.why() == kTooDeep) {
      return events::Refusal{
          400, fmt::format("Presence document nested deeper than {} elements", config.document_limits.max_depth), {}};
    }
    if (parsed.why() == kTooManyElements) {
      return events::Refusal{
          400, fmt::format("Presence document has more than {} elements", config.document_limits.max_elements), {}};
    }
    return events::Refusal{400, std::string(parsed.why()), {}};
  }
  document = std::move(parsed).value();
  return std::nullopt;
}

}  // namespace

// ---- the packages: thin adapters onto the agent

class PresenceAgent::PresencePackage final : public events::Package {
 public:
  explicit PresencePackage(PresenceAgent& agent) : agent_(agent) {}
  std::string_view name() const override { return kPresence; }
  std::vector<std::string> content_types() const override {
    return {std::string(content_type_of(PidfFlavor::kPidf)), std::string(content_type_of(PidfFlavor::kCpimPidf))};
  }
  std::optional<events::Refusal> admit(const sip::Message&, const events::Subscription& s) override {
    return agent_.admit_presence(s);
  }
  events::State authorize(const events::Subscription& s) override {
    return state_for(agent_.authorization_.decide(s.resource, s.watcher));
  }
  std::optional<events::Body> body_for(const events::Subscription& s) override { return agent_.presence_body(s); }
  void on_change(const events::Subscription& s, std::optional<events::Reason> ended) override {
    agent_.presence_changed(s, ended);
  }

 private:
  PresenceAgent& agent_;
};

class PresenceAgent::WinfoPackage final : public events::Package {
 public:
  explicit WinfoPackage(PresenceAgent& agent) : agent_(agent) {}
  std::string_view name() const override { return kWinfo; }
  std::vector<std::string> content_types() const override { return {std::string(kWatcherinfoType)}; }
  std::optional<events::Refusal> admit(const sip::Message&, const events::Subscription& s) override {
    return agent_.admit_winfo(s);
  }
  // Only the presentity itself gets this far (admit), and it may always see its watchers.
  events::State authorize(const events::Subscription&) override { return events::State::kActive; }
  std::optional<events::Body> body_for(const events::Subscription& s) override { return agent_.winfo_body(s); }
  void on_change(const events::Subscription& s, std::optional<events::Reason> ended) override {
    agent_.winfo_changed(s, ended);
  }

 private:
  PresenceAgent& agent_;
};

// ---- lifetime

PresenceAgent::PresenceAgent(PresenceConfig config, events::Notifier& notifier, registrar::LocationService& location,
                             store::PublicationStore* publications, store::PresenceRuleStore* rules,
                             sip::txn::TimerService& timers, Clock now, sip::Network& network,
                             UserExists user_exists)
    : config_(config),
      notifier_(notifier),
      location_(location),
      publication_store_(publications),
      rule_store_(rules),
      timers_(timers),
      now_(std::move(now)),
      network_(network),
      user_exists_(std::move(user_exists)),
      authorization_(config.policy),
      presence_package_(std::make_unique<PresencePackage>(*this)),
      winfo_package_(std::make_unique<WinfoPackage>(*this)) {
  notifier_.add_package(*presence_package_);
  notifier_.add_package(*winfo_package_);
  location_.observe([this](const std::string& aor, bool) { on_registration(aor); });
}

PresenceAgent::~PresenceAgent() {
  timers_.cancel(rules_timer_);
  for (auto& [etag, publication] : publications_) timers_.cancel(publication.expiry);
}

void PresenceAgent::start() {
  load_publications();
  load_rules();
  if (rule_store_ != nullptr) rules_timer_ = timers_.schedule_after(config_.rules_poll, [this] { poll_rules(); });
}

void PresenceAgent::load_publications() {
  if (publication_store_ == nullptr) return;
  const std::int64_t now = now_();
  if (auto removed = publication_store_->remove_expired_publications(now); !removed.ok()) {
    spdlog::error("store: cannot remove expired publications: {}", removed.status().message());
  }
  auto loaded = publication_store_->load_publications();
  if (!loaded.ok()) {
    spdlog::error("store: cannot load publications: {}", loaded.status().message());
    return;
  }
  for (store::Publication& record : loaded.value()) {
    if (record.event != kPresence) continue;  // another package's
    if (owned_ && !owned_(record.presentity)) continue;  // another shard's
    if (record.expires_at <= now) {
      if (auto s = publication_store_->remove_publication(record.etag); !s.ok()) {
        spdlog::error("store: cannot remove expired publication {}: {}", record.etag, s.message());
      }
      continue;
    }
    auto document = record.body.size() > config_.max_document_bytes
                        ? sip::Parsed<PresenceDocument>::error("larger than max_document_bytes")
                        : parse_pidf(record.body, record.presentity, config_.document_limits);
    if (!document.ok()) {
      spdlog::warn("store: publication {} of {} does not parse ({}); removed", record.etag, record.presentity,
                   document.why());
      if (auto s = publication_store_->remove_publication(record.etag); !s.ok()) {
        spdlog::error("store: cannot remove publication {}: {}", record.etag, s.message());
      }
      continue;
    }
    next_sequence_ = std::max(next_sequence_, record.sequence + 1);
    by_presentity_[record.presentity].emplace(record.sequence, record.etag);
    const std::string etag = record.etag;
    Publication& publication = publications_[etag];
    publication.record = std::move(record);
    publication.document = std::move(document).value();
    arm_expiry(publication);
  }
  counters_.publications = publications_.size();
  if (!publications_.empty()) spdlog::info("{} publications loaded", publications_.size());
}

void PresenceAgent::load_rules() {
  if (rule_store_ == nullptr) return;
  // The generation is read first: a change between the two reads is seen by the next poll.
  auto generation = rule_store_->presence_rules_generation();
  auto rules = rule_store_->load_presence_rules();
  if (!rules.ok()) {
    spdlog::error("store: cannot load presence rules: {}", rules.status().message());
    return;
  }
  authorization_.set_rules(rules.value());
  if (generation.ok()) rules_generation_ = generation.value();
}

// ---- PUBLISH (RFC 3903 §6)

void PresenceAgent::handle_publish(sip::txn::ServerTransactionId id, const Message& request) {
  ++counters_.publishes;
  const auto event = request.get<sip::hdr::Event>();
  if (!event.ok() || !sip::grammar::iequals(event->package, kPresence)) {
    answer(id, request, 489, "Bad Event", {{HeaderId::kAllowEvents, std::string(kPresence)}});
    return;
  }
  const auto& uri = request.request_uri();
  const std::string presentity = uri.ok() ? sip::address_of_record(uri.value()) : std::string();
  if (presentity.empty() || !knows(presentity)) {
    answer(id, request, 404, "User not found");
    return;
  }
  const auto from = request.get<sip::hdr::From>();
  if (!from.ok()) {
    answer(id, request, 400, "Malformed From header");
    return;
  }
  if (sip::address_of_record(from->uri) != presentity) {
    answer(id, request, 403, "Only the presentity may publish its state");
    return;
  }

  std::int64_t expires = 0;
  if (auto refusal = publish_expires(request, config_, expires)) {
    answer(id, request, refusal->code, refusal->reason, refusal->headers);
    return;
  }
  Publication* old = nullptr;
  if (request.has(HeaderId::kSipIfMatch)) {
    const auto match = request.get<sip::hdr::SipIfMatch>();
    if (match.ok()) old = find_publication(match.value(), presentity);
    if (old == nullptr) {
      answer(id, request, 412, "Conditional Request Failed");
      return;
    }
  }
  std::optional<PresenceDocument> document;
  if (auto refusal = publish_document(request, presentity, old != nullptr, config_, document)) {
    answer(id, request, refusal->code, refusal->reason, refusal->headers);
    return;
  }

  // RFC 3903 §6: every successful PUBLISH gets a new entity-tag, a removal too.
  const std::string etag = new_etag();
  if (expires == 0) {  // a removal; without SIP-If-Match, a publication that ends at once
    const bool removed = old != nullptr;
    if (removed) remove_publication(old->record.etag, fmt::format("call-id={}", call_id_of(request)));
    answer(id, request, 200, "OK", {{HeaderId::kSipETag, etag}, {HeaderId::kExpires, "0"}});
    if (removed) changed(presentity);
    return;
  }
  const bool new_document = old == nullptr || document.has_value();  // not a pure refresh
  publish(request, presentity, old, std::move(document), now_() + expires, etag);
  answer(id, request, 200, "OK", {{HeaderId::kSipETag, etag}, {HeaderId::kExpires, std::to_string(expires)}});
  if (new_document) changed(presentity);
}

void PresenceAgent::answer(sip::txn::ServerTransactionId id, const Message& request, int code,
                           std::string_view reason, const std::vector<std::pair<HeaderId, std::string>>& extra) {
  network_.respond(id, request, code, reason, extra);
}

std::string PresenceAgent::new_etag() {
  // OpenSSL's generator (seeded once, then in user space): std::random_device reads the CPU's
  // RDRAND or the kernel on every call, which on a virtual machine was 56 % of the loop at
  // 7,200 PUBLISH cycles/s. The counter keeps entity-tags unique whatever the random bits.
  std::uint64_t random = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&random), sizeof random) != 1) {
    random = (std::uint64_t{random_()} << 32) | random_();  // the slow source, still unguessable
  }
  return fmt::format("{:016x}{:x}", random, ++etag_count_);
}

PresenceAgent::Publication* PresenceAgent::find_publication(std::string_view etag, const std::string& presentity) {
  const auto it = publications_.find(std::string(etag));
  if (it == publications_.end()) return nullptr;
  const store::Publication& record = it->second.record;
  // Expired but not yet reaped (its timer runs later in this turn): no longer live.
  if (record.presentity != presentity || record.expires_at <= now_()) return nullptr;
  return &it->second;
}

void PresenceAgent::publish(const Message& request, const std::string& presentity, Publication* old,
                            std::optional<PresenceDocument> document, std::int64_t expires_at,
                            const std::string& etag) {
  std::string replaces;
  Publication* publication = nullptr;
  if (old != nullptr) {
    replaces = old->record.etag;
    timers_.cancel(old->expiry);
    auto& index = by_presentity_[presentity];
    index.erase({old->record.sequence, replaces});
    index.emplace(old->record.sequence, etag);
    auto node = publications_.extract(replaces);  // `old` lives on in the node, under the new etag
    node.key() = etag;
    publication = &publications_.insert(std::move(node)).position->second;
  } else {
    // Room for it: the presentity's oldest publication makes way (its state is the stalest).
    if (auto index = by_presentity_.find(presentity);
        index != by_presentity_.end() && config_.max_publications > 0 &&
        index->second.size() >= config_.max_publications) {
      const std::string oldest = index->second.begin()->second;
      spdlog::info("call-id={} publication {} of {} replaced: {} publications is the limit", call_id_of(request),
                   oldest, presentity, config_.max_publications);
      remove_publication(oldest, fmt::format("call-id={}", call_id_of(request)));
    }
    publication = &publications_.emplace(etag, Publication{}).first->second;
    publication->record.presentity = presentity;
    publication->record.event = kPresence;
    publication->record.sequence = next_sequence_++;
    by_presentity_[presentity].emplace(publication->record.sequence, etag);
  }
  publication->record.etag = etag;
  publication->record.expires_at = expires_at;
  publication->record.updated_at = now_();
  if (document) {
    const sip::HeaderField* type = request.find(HeaderId::kContentType);
    publication->record.content_type = type ? std::string(type->value) : std::string();
    publication->record.body = request.body();
    publication->document = std::move(*document);
  }
  arm_expiry(*publication);
  counters_.publications = publications_.size();
  if (publication_store_ != nullptr) {
    if (auto s = publication_store_->put_publication(publication->record, replaces); !s.ok()) {
      spdlog::error("call-id={} store: cannot save the publication of {}: {}", call_id_of(request), presentity,
                    s.message());
    }
  }
  if (spdlog::should_log(spdlog::level::debug)) {  // the text is made only when logged
    spdlog::debug("call-id={} publication {} of {} until {}{}", call_id_of(request), etag, presentity, expires_at,
                  replaces.empty() ? std::string() : fmt::format(" (was {})", replaces));
  }
}

void PresenceAgent::remove_publication(std::string etag, std::string_view context) {
  const auto it = publications_.find(etag);
  if (it == publications_.end()) return;
  timers_.cancel(it->second.expiry);
  const std::string& presentity = it->second.record.presentity;
  if (auto index = by_presentity_.find(presentity); index != by_presentity_.end()) {
    index->second.erase({it->second.record.sequence, etag});
    if (index->second.empty()) by_presentity_.erase(index);
  }
  publications_.erase(it);
  counters_.publications = publications_.size();
  if (publication_store_ != nullptr) {
    if (auto s = publication_store_->remove_publication(etag); !s.ok()) {
      spdlog::error("{} store: cannot remove publication {}: {}", context, etag, s.message());
    }
  }
}

void PresenceAgent::arm_expiry(Publication& publication) {
  const std::int64_t left = std::max<std::int64_t>(0, publication.record.expires_at - now_());
  publication.expiry =
      timers_.schedule_after(std::chrono::seconds(left), [this, etag = publication.record.etag] { expire(etag); });
}

void PresenceAgent::expire(const std::string& etag) {
  const auto it = publications_.find(etag);
  if (it == publications_.end()) return;
  const std::string presentity = it->second.record.presentity;
  ++counters_.expired;
  spdlog::debug("publication {} of {} expired", etag, presentity);
  remove_publication(etag, fmt::format("expiry of {}:", presentity));
  changed(presentity);
}

void PresenceAgent::changed(const std::string& presentity) {
  documents_.erase(presentity);
  notifier_.notify(kPresence, presentity);
}

bool PresenceAgent::has_publications(const std::string& presentity) const {
  return by_presentity_.contains(presentity);
}

bool PresenceAgent::knows(const std::string& aor) const {
  if (has_publications(aor) || !location_.lookup(aor).empty()) return true;
  return user_exists_ && user_exists_(aor);
}

// ---- the composed document

const std::string& PresenceAgent::document(const std::string& presentity, PidfFlavor flavor, Action action) {
  Documents& documents = documents_[presentity];
  const std::size_t i = index_of(flavor);
  std::string& text = action == Action::kPoliteBlock ? documents.closed[i] : documents.composed[i];
  if (text.empty()) {
    text = action == Action::kPoliteBlock ? compose_closed(presentity, flavor) : compose_current(presentity, flavor);
    ++counters_.compositions;
  }
  return text;
}

std::string PresenceAgent::compose_current(const std::string& presentity, PidfFlavor flavor) const {
  if (const auto index = by_presentity_.find(presentity); index != by_presentity_.end()) {
    std::vector<PresenceDocument> documents;
    documents.reserve(index->second.size());
    for (const auto& [sequence, etag] : index->second) documents.push_back(publications_.at(etag).document);
    return compose(presentity, documents, flavor);
  }
  if (!config_.registration_state) return compose_closed(presentity, flavor);
  std::vector<std::string> contacts;
  for (const store::Binding& binding : location_.lookup(presentity)) contacts.push_back(binding.contact);
  return compose_from_registration(presentity, contacts, flavor);
}

void PresenceAgent::on_registration(const std::string& aor) {
  if (!config_.registration_state || has_publications(aor)) return;
  std::string before;
  if (const auto it = documents_.find(aor); it != documents_.end()) {
    before = std::move(it->second.composed[index_of(PidfFlavor::kPidf)]);
    documents_.erase(it);
  }
  if (notifier_.count(kPresence, aor) == 0) return;
  // A refresh of the same contacts composes the same bytes: no NOTIFY for it.
  if (!before.empty() && before == document(aor, PidfFlavor::kPidf, Action::kAllow)) return;
  notifier_.notify(kPresence, aor);
}

// ---- rules

void PresenceAgent::poll_rules() {
  rules_timer_ = timers_.schedule_after(config_.rules_poll, [this] { poll_rules(); });
  auto generation = rule_store_->presence_rules_generation();
  if (!generation.ok()) {
    spdlog::warn("store: cannot read the presence rules generation: {}", generation.status().message());
    return;
  }
  if (rules_generation_ == generation.value()) return;
  auto rules = rule_store_->load_presence_rules();
  if (!rules.ok()) {
    spdlog::warn("store: cannot load presence rules: {}", rules.status().message());
    return;
  }
  ++counters_.rule_reloads;
  const std::vector<std::string> changed = authorization_.changed_presentities(rules.value());
  // Which active watchers see the closed document now (polite-block): a change between
  // allow and polite-block keeps the state, so reauthorize() sends nothing for it.
  std::vector<std::vector<std::pair<std::string, bool>>> closed_before(changed.size());
  for (std::size_t i = 0; i < changed.size(); ++i) {
    for (const events::Subscription* s : notifier_.subscriptions(kPresence, changed[i])) {
      if (s->state != events::State::kActive) continue;
      closed_before[i].emplace_back(s->watcher, authorization_.decide(changed[i], s->watcher) == Action::kPoliteBlock);
    }
  }
  authorization_.set_rules(rules.value());
  rules_generation_ = generation.value();
  spdlog::info("presence rules reloaded (generation {}): {} presentities changed", generation.value(), changed.size());
  for (std::size_t i = 0; i < changed.size(); ++i) {
    const std::string& presentity = changed[i];
    const bool new_body = std::any_of(closed_before[i].begin(), closed_before[i].end(), [&](const auto& watcher) {
      return watcher.second != (authorization_.decide(presentity, watcher.first) == Action::kPoliteBlock);
    });
    notifier_.reauthorize(kPresence, presentity);
    if (new_body) notifier_.notify(kPresence, presentity);
  }
}

// ---- the presence package

std::optional<events::Refusal> PresenceAgent::admit_presence(const events::Subscription& s) const {
  if (!config_.hide_unknown_users && !knows(s.resource)) return events::Refusal{404, "User not found", {}};
  return std::nullopt;
}

std::optional<events::Body> PresenceAgent::presence_body(const events::Subscription& s) {
  const Action action = authorization_.decide(s.resource, s.watcher);
  // A watcher not (or no longer) authorized gets no state, not even in a final NOTIFY.
  if (action != Action::kAllow && action != Action::kPoliteBlock) return std::nullopt;
  const PidfFlavor flavor = flavor_of(s.content_type).value_or(PidfFlavor::kPidf);
  return events::Body{std::string(content_type_of(flavor)), document(s.resource, flavor, action)};
}

void PresenceAgent::presence_changed(const events::Subscription& s, std::optional<events::Reason> ended) {
  if (!ended && s.state == events::State::kPending) were_pending_.insert(s.key);
  if (ended) {
    were_pending_.erase(s.key);
    // Each winfo subscription of the resource shows it once as terminated, in its next
    // document.
    const WatcherEntry entry{watcher_id(s.key), s.watcher, s.watcher_display, "terminated",
                             std::string(events::to_string(*ended)), -1};
    for (const events::Subscription* w : notifier_.subscriptions(kWinfo, s.resource)) {
      winfo_[w->key].ended.push_back(entry);
    }
    // The notifier has already taken `s` out of its lists.
    if (notifier_.count(kPresence, s.resource) == 0) documents_.erase(s.resource);  // nobody left to serve
  }
  if (notifier_.count(kWinfo, s.resource) != 0) notifier_.notify(kWinfo, s.resource);
}

// ---- the presence.winfo package

std::optional<events::Refusal> PresenceAgent::admit_winfo(const events::Subscription& s) const {
  if (s.watcher != s.resource) return events::Refusal{403, "Only the presentity may watch its watchers", {}};
  if (!knows(s.resource)) return events::Refusal{404, "User not found", {}};
  return std::nullopt;
}

std::optional<events::Body> PresenceAgent::winfo_body(const events::Subscription& s) {
  // The final NOTIFY of an ended winfo subscription (sent after on_change forgot it) says
  // only that it ended: its version count is gone, and no other NOTIFY follows.
  if (s.state == events::State::kTerminated) return std::nullopt;
  WinfoState& state = winfo_[s.key];
  std::unordered_set<std::string> ended;
  for (const WatcherEntry& e : state.ended) ended.insert(e.id);
  std::vector<WatcherEntry> watchers;
  for (const events::Subscription* p : notifier_.subscriptions(kPresence, s.resource)) {
    std::string id = watcher_id(p->key);
    if (ended.contains(id)) continue;  // ending now: listed below as terminated
    const bool pending = p->state == events::State::kPending;
    watchers.push_back({std::move(id), p->watcher, p->watcher_display, std::string(events::to_string(p->state)),
                        pending || !were_pending_.contains(p->key) ? "subscribe" : "approved", -1});
  }
  for (WatcherEntry& e : state.ended) watchers.push_back(std::move(e));
  state.ended.clear();
  return events::Body{std::string(kWatcherinfoType),
                      compose_watcherinfo(state.version++, s.resource, kPresence, watchers)};
}

void PresenceAgent::winfo_changed(const events::Subscription& s, std::optional<events::Reason> ended) {
  if (ended) winfo_.erase(s.key);
}

}  // namespace herald::services::presence
