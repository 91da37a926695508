#include "services/registrar/location_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <chrono>

namespace herald::services::registrar {
namespace {

std::size_t text_hash(std::string_view text) { return std::hash<std::string_view>{}(text); }

}  // namespace

LocationService::LocationService(sip::txn::TimerService& timers, store::BindingStore* store, Clock now)
    : timers_(timers), store_(store), now_(std::move(now)) {}

LocationService::~LocationService() {
  for (auto& [aor, entries] : aors_) {
    for (Entry& e : entries) timers_.cancel(e.expiry);
  }
}

void LocationService::presize(std::size_t buckets) {
  aors_.max_load_factor(4.0F);
  aors_.rehash(buckets);
  by_contact_.max_load_factor(4.0F);
  by_contact_.rehash(buckets);
}

std::size_t LocationService::load() {
  if (store_ == nullptr) return 0;
  auto all = store_->load_bindings();
  if (!all.ok()) {
    spdlog::error("cannot load bindings: {}", all.status().message());
    return 0;
  }
  std::int64_t now = now_();
  std::size_t kept = 0;
  for (store::Binding& b : all.value()) {
    next_id_ = std::max(next_id_, b.id + 1);  // expired ones too: removed after the loop
    if (b.expires_at <= now) continue;
    std::vector<Entry>& entries = aors_[b.aor];
    const std::size_t contact_hash = text_hash(b.contact);
    entries.push_back({std::move(b), {}, 0, contact_hash});
    arm(entries.back());
    index(entries.back());
    ++count_;
    ++kept;
  }
  if (auto removed = store_->remove_expired(now); !removed.ok()) {
    spdlog::error("cannot remove expired bindings: {}", removed.status().message());
  }
  return kept;
}

std::vector<store::Binding> LocationService::lookup(std::string_view aor) const {
  std::vector<store::Binding> out;
  auto it = aors_.find(aor);
  if (it == aors_.end()) return out;
  out.reserve(it->second.size());
  for (const Entry& e : it->second) out.push_back(e.binding);
  std::stable_sort(out.begin(), out.end(), [](const store::Binding& a, const store::Binding& b) {
    int qa = a.q < 0 ? 1000 : a.q;  // an absent q ranks as 1.0 (RFC 3261 §16.6 leaves it open)
    int qb = b.q < 0 ? 1000 : b.q;
    if (qa != qb) return qa > qb;
    return a.updated_at > b.updated_at;
  });
  return out;
}

std::size_t LocationService::count(std::string_view aor) const {
  auto it = aors_.find(aor);
  return it == aors_.end() ? 0 : it->second.size();
}

namespace {

std::size_t key_hash_of(const sip::Uri& uri) { return std::hash<std::string>{}(contact_key(uri)); }

}  // namespace

std::vector<LocationService::Entry>::iterator LocationService::find_contact(std::vector<Entry>& entries,
                                                                             std::string_view contact,
                                                                             std::size_t hash) {
  return std::find_if(entries.begin(), entries.end(),
                      [&](const Entry& e) { return e.contact_hash == hash && e.binding.contact == contact; });
}

const store::Binding* LocationService::match(std::string_view aor, const sip::Uri& uri) const {
  auto it = aors_.find(aor);
  if (it == aors_.end()) return nullptr;
  const std::size_t key = uri.is_sip() ? key_hash_of(uri) : 0;
  for (const Entry& e : it->second) {
    // Equal URIs (equal texts first of all) have equal user, host and port, so equal keys:
    // one integer compared per binding of the AOR, not its text. A key of 0 (not SIP, or
    // not parsed) is compared in full.
    if (e.key_hash != key) continue;
    if (e.binding.contact == uri.text) return &e.binding;
    auto stored = sip::parse_uri(e.binding.contact);
    if (stored.ok() && sip::uri_equal(stored.value(), uri)) return &e.binding;
  }
  return nullptr;
}

std::string contact_key(const sip::Uri& uri) {
  std::string key = sip::unescape(uri.user);
  key += '@';
  for (char c : uri.host) key += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  key += ':';
  key += std::to_string(uri.port);
  return key;
}

void LocationService::index(Entry& entry) {
  auto uri = sip::parse_uri(entry.binding.contact);
  auto aor = aors_.find(entry.binding.aor);
  entry.key_hash = 0;
  if (!uri.ok() || !uri->is_sip() || aor == aors_.end()) return;
  entry.key_hash = key_hash_of(uri.value());
  by_contact_.emplace(entry.key_hash, &aor->first);
}

void LocationService::unindex(const Entry& entry) {
  if (entry.key_hash == 0) return;
  auto [first, last] = by_contact_.equal_range(entry.key_hash);
  for (auto it = first; it != last; ++it) {
    if (*it->second == entry.binding.aor) {
      by_contact_.erase(it);
      return;
    }
  }
}

void LocationService::notify(const std::string& aor, bool registered) {
  for (const Observer& observer : observers_) observer(aor, registered);
}

const store::Binding* LocationService::find_by_contact(const sip::Uri& uri) const {
  if (!uri.is_sip()) return nullptr;
  const std::string key = contact_key(uri);
  auto [first, last] = by_contact_.equal_range(std::hash<std::string>{}(key));  // key_hash_of(uri)
  for (auto it = first; it != last; ++it) {
    auto entries = aors_.find(*it->second);
    if (entries == aors_.end()) continue;
    for (const Entry& e : entries->second) {
      auto contact = sip::parse_uri(e.binding.contact);
      if (contact.ok() && contact->scheme == uri.scheme && contact_key(contact.value()) == key) return &e.binding;
    }
  }
  return nullptr;
}

const store::Binding* LocationService::find(std::string_view aor, std::string_view contact) const {
  auto it = aors_.find(aor);
  if (it == aors_.end()) return nullptr;
  const std::size_t hash = text_hash(contact);
  for (const Entry& e : it->second) {
    if (e.contact_hash == hash && e.binding.contact == contact) return &e.binding;
  }
  return nullptr;
}

void LocationService::arm(Entry& entry) {
  timers_.cancel(entry.expiry);
  std::int64_t remaining = entry.binding.expires_at - now_();
  entry.expiry = timers_.schedule_after(std::chrono::seconds(std::max<std::int64_t>(remaining, 0)),
                                        [this, aor = entry.binding.aor, contact = entry.binding.contact] {
                                          expire(aor, contact);
                                        });
}

void LocationService::expire(const std::string& aor, const std::string& contact) {
  spdlog::debug("binding {} -> {} expired", aor, contact);
  auto status = remove(aor, contact);
  if (!status.ok() && !status.is_not_found()) {
    spdlog::error("cannot remove expired binding {} -> {}: {}", aor, contact, status.message());
  }
}

store::Status LocationService::put(store::Binding binding) {
  binding.updated_at = now_();
  std::vector<Entry>& entries = aors_[binding.aor];
  const std::size_t contact_hash = text_hash(binding.contact);
  auto it = find_contact(entries, binding.contact, contact_hash);
  if (it == entries.end()) {
    binding.id = next_id_++;
    entries.push_back({std::move(binding), {}, 0, contact_hash});
    it = entries.end() - 1;
    ++count_;
    index(*it);
  } else {
    binding.id = it->binding.id;
    it->binding = std::move(binding);
  }
  arm(*it);
  store::Status status = store_ ? store_->put_binding(it->binding) : store::Status{};
  const std::string aor = it->binding.aor;  // an observer may change the entries
  notify(aor, true);
  return status;
}

store::Status LocationService::remove(std::string_view aor, std::string_view contact) {
  auto found = aors_.find(aor);
  if (found != aors_.end()) {
    std::vector<Entry>& entries = found->second;
    auto it = find_contact(entries, contact, text_hash(contact));
    if (it != entries.end()) {
      timers_.cancel(it->expiry);
      unindex(*it);
      store::Status status = store_ ? store_->remove_binding(it->binding.id) : store::Status{};
      entries.erase(it);
      --count_;
      if (entries.empty()) aors_.erase(found);
      notify(std::string(aor), false);
      return status;
    }
  }
  return store::Status::not_found("no binding of " + std::string(aor) + " to " + std::string(contact));
}

store::Status LocationService::remove_all(std::string_view aor) {
  store::Status status;
  auto found = aors_.find(aor);
  if (found != aors_.end()) {
    for (Entry& e : found->second) {
      timers_.cancel(e.expiry);
      unindex(e);
      store::Status removed = store_ ? store_->remove_binding(e.binding.id) : store::Status{};
      if (status.ok()) status = removed;  // the first failure is the one reported
    }
    count_ -= found->second.size();
    aors_.erase(found);
  }
  notify(std::string(aor), false);
  return status;
}

}  // namespace herald::services::registrar
