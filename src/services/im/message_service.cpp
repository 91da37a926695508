#include "services/im/message_service.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>

#include "services/registrar/registrar.h"
#include "sip/msg/grammar.h"

namespace herald::services::im {
namespace {

using sip::HeaderId;
using sip::Message;

std::string_view value_of(const Message& m, HeaderId id) {
  const sip::HeaderField* f = m.find(id);
  return f ? f->value : std::string_view();
}

// RFC 3428 §7 leaves store-and-forward to the server's judgement: Herald keeps a message when
// no device could take it for a passing reason (timeout, unavailable, server trouble), not
// when one refused it or it cannot be carried (513).
bool worth_storing(const std::vector<int>& codes) {
  return !codes.empty() && std::all_of(codes.begin(), codes.end(), [](int code) {
    return code == 408 || code == 480 || (code >= 500 && code < 600 && code != 513);
  });
}

// The AOR a From value names ("" when it does not parse).
std::string sender_aor(std::string_view from_value) {
  auto from = sip::parse_name_addr(from_value);
  return from.ok() ? sip::address_of_record(from->uri) : std::string();
}

}  // namespace

MessageService::MessageService(ImConfig config, proxy::Proxy& proxy, registrar::LocationService& location,
                               store::MessageStore* store, sip::txn::TimerService& timers, Clock now,
                               sip::Network& network)
    : config_(std::move(config)),
      proxy_(proxy),
      location_(location),
      store_(config_.store ? store : nullptr),
      timers_(timers),
      now_(std::move(now)),
      network_(network),
      instance_(std::random_device{}()) {
  for (std::string& d : config_.domains) d = sip::grammar::lower(d);
  location_.observe([this](const std::string& aor, bool registered) {
    if (registered) on_registered(aor);
  });
}

MessageService::~MessageService() {
  timers_.cancel(sweep_timer_);
  for (auto& [aor, d] : deliveries_) timers_.cancel(d.retry);
}

void MessageService::start() {
  if (store_ == nullptr) return;
  sweep();
  auto recipients = store_->message_recipients();
  if (!recipients.ok()) {
    spdlog::error("store: cannot list stored messages: {}", recipients.status().message());
    return;
  }
  for (std::string& aor : recipients.value()) {
    if (owned_ && !owned_(aor)) continue;  // another shard's
    pending_.insert(aor);
    if (!location_.lookup(aor).empty()) on_registered(aor);
  }
  if (!pending_.empty()) spdlog::info("{} users have stored messages", pending_.size());
}

bool MessageService::on_forward(sip::txn::ServerTransactionId id, const Message& request, const std::string& aor) {
  // Messages keep their order: behind stored ones, a new one waits its turn in the store.
  if (store_ == nullptr || request.method() != sip::Method::kMessage || !pending_.contains(aor)) return false;
  store_and_answer(id, request, aor);
  Delivery& d = deliveries_[aor];
  if (!d.in_flight && !timers_.is_pending(d.retry)) on_registered(aor);
  return true;
}

bool MessageService::may_store(const Message& request) const {
  if (store_ == nullptr || request.method() != sip::Method::kMessage) return false;
  return config_.store_from_anyone || is_local(sender_aor(value_of(request, HeaderId::kFrom)));
}

bool MessageService::is_local(std::string_view sender) const {
  const std::size_t at = sender.rfind('@');
  if (at == std::string_view::npos) return false;
  const std::string_view host = sender.substr(at + 1);
  return std::find(config_.domains.begin(), config_.domains.end(), host) != config_.domains.end();
}

bool MessageService::on_unavailable(sip::txn::ServerTransactionId id, const Message& request, const std::string& aor,
                                    bool exists) {
  if (!may_store(request)) return false;
  if (!exists) {
    // hide_unknown_users: answered as a message for an offline user would be; nothing kept.
    ++counters_.discarded;
    spdlog::debug("call-id={} MESSAGE for {}, who does not exist, answered 202 and dropped",
                  value_of(request, HeaderId::kCallId), aor);
    network_.respond(id, request, 202, "Accepted for later delivery");
    return true;
  }
  store_and_answer(id, request, aor);
  return true;
}

bool MessageService::on_failed(sip::txn::ServerTransactionId id, const Message& request, const std::string& aor,
                               const proxy::Outcome& outcome) {
  if (!may_store(request) || !worth_storing(outcome.codes)) return false;
  store_and_answer(id, request, aor);
  retry_later(aor);  // the user is registered, but no device took it now
  return true;
}

std::uint64_t MessageService::on_slow(sip::txn::ServerTransactionId id, const Message& request,
                                      const std::string& aor) {
  if (!may_store(request)) return 0;
  Mailbox* box = mailbox(aor);
  const std::string sender = sender_aor(value_of(request, HeaderId::kFrom));
  if (box == nullptr || refusal(*box, sender)) return 0;  // it waits for its branches instead
  const std::int64_t stored = store_and_answer(id, request, aor);
  if (stored <= 0) return 0;
  spdlog::info("call-id={} MESSAGE for {}: no device answered in {} s; stored and answered 202",
               value_of(request, HeaderId::kCallId), aor, config_.answer_within.count());
  ++deliveries_[aor].forks;
  slow_.emplace(static_cast<std::uint64_t>(stored), aor);
  return static_cast<std::uint64_t>(stored);
}

void MessageService::on_slow_done(std::uint64_t ticket, bool delivered) {
  const auto found = slow_.find(ticket);
  if (found == slow_.end()) return;
  const std::string aor = found->second;
  slow_.erase(found);
  Delivery& d = deliveries_[aor];
  if (d.forks > 0) --d.forks;
  const auto message_id = static_cast<std::int64_t>(ticket);
  if (delivered) {
    // A device took it after all: the stored copy goes, or it would arrive twice.
    ++counters_.late_deliveries;
    if (auto s = store_->remove_message(message_id); !s.ok() && !s.is_not_found()) {
      spdlog::error("store: {}", s.message());
    }
    forget_stored(aor, message_id);
    spdlog::info("stored message #{} for {} removed: a device took it after its 202", message_id, aor);
  }
  if (d.forks > 0 || d.in_flight) return;
  if (delivered) {
    on_registered(aor);  // whatever else waits goes now
  } else {
    retry_later(aor);
  }
}

std::optional<std::string_view> MessageService::refusal(const Mailbox& box, const std::string& sender) const {
  if (box.total >= config_.max_per_user) return "Recipient's message store is full";
  if (const auto from = box.by_sender.find(sender); from != box.by_sender.end() && from->second >= config_.max_per_sender) {
    return "Too many stored messages from this sender";
  }
  if (!is_local(sender) && box.from_outside >= config_.max_from_outside) {
    return "Too many stored messages from other domains";
  }
  return std::nullopt;
}

MessageService::Mailbox* MessageService::mailbox(const std::string& aor) {
  if (const auto found = mailboxes_.find(aor); found != mailboxes_.end()) return &found->second;
  auto stored = store_->pending_messages(aor);
  if (!stored.ok()) {
    spdlog::error("store: {}", stored.status().message());
    return nullptr;
  }
  Mailbox box;
  for (const store::StoredMessage& m : stored.value()) {
    std::string sender = sender_aor(m.from);
    ++box.total;
    if (!is_local(sender)) ++box.from_outside;
    ++box.by_sender[sender];
    box.sender_of.emplace(m.id, std::move(sender));
  }
  return &mailboxes_.emplace(aor, std::move(box)).first->second;
}

void MessageService::forget_stored(const std::string& aor, std::int64_t message_id) {
  const auto found = mailboxes_.find(aor);
  if (found == mailboxes_.end()) return;
  Mailbox& box = found->second;
  const auto sender = box.sender_of.find(message_id);
  if (sender == box.sender_of.end()) return;
  if (box.total > 0) --box.total;
  if (!is_local(sender->second) && box.from_outside > 0) --box.from_outside;
  if (auto count = box.by_sender.find(sender->second); count != box.by_sender.end() && --count->second == 0) {
    box.by_sender.erase(count);
  }
  box.sender_of.erase(sender);
  if (box.total == 0) mailboxes_.erase(found);
}

std::int64_t MessageService::store_and_answer(sip::txn::ServerTransactionId id, const Message& request,
                                              const std::string& aor) {
  Mailbox* box = mailbox(aor);
  if (box == nullptr) {
    network_.respond(id, request, 500, "Message store unavailable");
    return 0;
  }
  std::string sender = sender_aor(value_of(request, HeaderId::kFrom));
  if (auto why = refusal(*box, sender)) {
    ++(box->total >= config_.max_per_user ? counters_.refused_full : counters_.refused_quota);
    spdlog::info("call-id={} MESSAGE from {} for {} not stored: {}", value_of(request, HeaderId::kCallId), sender, aor,
                 *why);
    network_.respond(id, request, 486, *why);
    return 0;
  }
  const std::int64_t now = now_();
  store::StoredMessage m;
  m.recipient = aor;
  m.from = value_of(request, HeaderId::kFrom);
  m.to = value_of(request, HeaderId::kTo);
  m.content_type = value_of(request, HeaderId::kContentType);
  m.body = request.body();
  m.date = value_of(request, HeaderId::kDate);
  if (m.date.empty()) m.date = registrar::rfc1123_date(now);
  m.received_at = now;
  m.expires_at = now + config_.expiry.count();
  auto stored = store_->store_message(m);
  if (!stored.ok()) {
    spdlog::error("store: {}", stored.status().message());
    network_.respond(id, request, 500, "Message store unavailable");
    return 0;
  }
  ++counters_.stored;
  pending_.insert(aor);
  ++box->total;
  if (!is_local(sender)) ++box->from_outside;
  ++box->by_sender[sender];
  box->sender_of.emplace(stored.value(), std::move(sender));
  spdlog::info("call-id={} MESSAGE for {} stored for later delivery (#{})", value_of(request, HeaderId::kCallId), aor,
               stored.value());
  network_.respond(id, request, 202, "Accepted for later delivery");
  return stored.value();
}

void MessageService::on_registered(const std::string& aor) {
  if (!pending_.contains(aor)) return;
  Delivery& d = deliveries_[aor];
  if (d.in_flight) return;
  d.failures = 0;
  timers_.cancel(d.retry);
  // After the REGISTER's own answer: a device should hear "200" before the first message.
  d.retry = timers_.schedule_after(std::chrono::milliseconds(0), [this, aor] { deliver_next(aor); });
}

void MessageService::deliver_next(const std::string& aor) {
  Delivery& d = deliveries_[aor];
  if (d.in_flight || d.forks > 0) return;  // a message answered early is still being forked: it ends that wait
  auto messages = store_->pending_messages(aor);
  if (!messages.ok()) {
    spdlog::error("store: {}", messages.status().message());
    retry_later(aor);
    return;
  }
  const std::int64_t now = now_();
  const store::StoredMessage* next = nullptr;
  for (const store::StoredMessage& m : messages.value()) {
    if (m.expires_at > now) {
      next = &m;
      break;
    }
    store_->remove_message(m.id);
    forget_stored(aor, m.id);
    ++counters_.expired;
  }
  if (next == nullptr) {
    pending_.erase(aor);
    deliveries_.erase(aor);
    return;
  }
  Message request = Message::request("MESSAGE", aor);
  request.append(HeaderId::kMaxForwards, "70");
  request.append(HeaderId::kFrom, next->from);
  request.append(HeaderId::kTo, next->to);
  request.append(HeaderId::kCallId, new_call_id());
  request.append(HeaderId::kCSeq, "1 MESSAGE");
  request.append(HeaderId::kDate, next->date);
  request.set_body(next->content_type, next->body);
  d.in_flight = true;
  const std::int64_t id = next->id;
  const std::uint32_t attempts = next->attempts;
  spdlog::debug("delivering stored message #{} to {}", id, aor);
  proxy_.originate(std::move(request), aor, [this, aor, id, attempts](const Message& final) {
    on_delivered(aor, id, attempts, final);
  });
}

void MessageService::on_delivered(const std::string& aor, std::int64_t message_id, std::uint32_t attempts,
                                  const Message& final) {
  Delivery& d = deliveries_[aor];
  d.in_flight = false;
  const int code = final.status_code();
  if (code >= 200 && code < 300) {
    ++counters_.delivered;
    d.failures = 0;
    if (auto s = store_->remove_message(message_id); !s.ok()) spdlog::error("store: {}", s.message());
    forget_stored(aor, message_id);
    spdlog::info("stored message #{} delivered to {}", message_id, aor);
    deliver_next(aor);
    return;
  }
  ++counters_.failed_deliveries;
  if (auto s = store_->set_message_attempts(message_id, attempts + 1); !s.ok()) spdlog::error("store: {}", s.message());
  spdlog::info("stored message #{} for {} not delivered: {} {}; retrying later", message_id, aor, code,
               final.reason_phrase());
  retry_later(aor);
}

void MessageService::retry_later(const std::string& aor) {
  Delivery& d = deliveries_[aor];
  if (d.in_flight) return;
  timers_.cancel(d.retry);
  const std::chrono::seconds cap = std::max(config_.max_retry_interval, config_.retry_interval);
  const std::chrono::seconds delay =
      std::min<std::chrono::seconds>(config_.retry_interval * (std::int64_t{1} << std::min<std::uint32_t>(d.failures, 16)), cap);
  ++d.failures;
  d.retry = timers_.schedule_after(delay, [this, aor] {
    if (location_.lookup(aor).empty()) return;  // the next registration restarts delivery
    deliver_next(aor);
  });
}

void MessageService::sweep() {
  auto removed = store_->remove_expired_messages(now_());
  if (!removed.ok()) {
    spdlog::error("store: {}", removed.status().message());
  } else if (removed.value() > 0) {
    counters_.expired += removed.value();
    mailboxes_.clear();  // counted again from the store when next needed
    spdlog::info("{} stored messages expired undelivered", removed.value());
  }
  sweep_timer_ = timers_.schedule_after(config_.sweep_interval, [this] { sweep(); });
}

std::string MessageService::new_call_id() { return fmt::format("{:x}-{:x}@herald", instance_, ++call_ids_); }

}  // namespace herald::services::im
