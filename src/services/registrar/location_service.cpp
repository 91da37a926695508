#include "services/registrar/location_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "sip/msg/grammar.h"

namespace herald::services::registrar {
namespace {

std::size_t text_hash(std::string_view text) { return std::hash<std::string_view>{}(text); }

}  // namespace

LocationService::LocationService(sip::txn::TimerService& timers, store::BindingStore* store, Clock now)
    : timers_(timers), store_(store), now_(std::move(now)) {}

LocationService::~LocationService() {
  for (auto& [aor, bindings] : aors_) timers_.cancel(bindings.expiry);
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
    if (b.expires_at <= now || (owned_ && !owned_(b.aor))) continue;
    auto [it, added] = aors_.try_emplace(b.aor);
    const std::size_t contact_hash = text_hash(b.contact);
    const std::int64_t expires_at = b.expires_at;
    add(it->second, {std::move(b)}, contact_hash);
    arm(it->first, it->second, expires_at);
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
  out.reserve(it->second.entries.size());
  for (const Entry& e : it->second.entries) out.push_back(e.binding);
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
  return it == aors_.end() ? 0 : it->second.entries.size();
}

namespace {

std::size_t key_hash_of(const sip::Uri& uri) { return std::hash<std::string>{}(contact_key(uri)); }

}  // namespace

std::size_t LocationService::find_contact(const Bindings& bindings, std::string_view contact, std::size_t hash) {
  const std::size_t n = bindings.hashes.size();
  for (std::size_t i = 0; i < n; ++i) {
    if (bindings.hashes[i].contact == hash && bindings.entries[i].binding.contact == contact) return i;
  }
  return n;
}

void LocationService::add(Bindings& bindings, Entry entry, std::size_t contact_hash) {
  bindings.entries.push_back(std::move(entry));
  bindings.hashes.push_back({index(bindings.entries.back()), contact_hash});
  ++count_;
}

const store::Binding* LocationService::match(std::string_view aor, const sip::Uri& uri) const {
  auto it = aors_.find(aor);
  if (it == aors_.end()) return nullptr;
  const std::size_t key = uri.is_sip() ? key_hash_of(uri) : 0;
  const Bindings& bindings = it->second;
  for (std::size_t i = 0; i < bindings.hashes.size(); ++i) {
    // Equal URIs (equal texts first of all) have equal user, host and port, so equal keys:
    // one integer compared per binding of the AOR, not its text. A key of 0 (not SIP, or
    // not parsed) is compared in full.
    if (bindings.hashes[i].key != key) continue;
    const store::Binding& binding = bindings.entries[i].binding;
    if (binding.contact == uri.text) return &binding;
    auto stored = sip::parse_uri(binding.contact);
    if (stored.ok() && sip::uri_equal(stored.value(), uri)) return &binding;
  }
  return nullptr;
}

std::string contact_key(const sip::Uri& uri) {
  std::string key = sip::unescape(uri.user);
  key += '@';
  sip::grammar::append_lower(key, uri.host);
  key += ':';
  key += std::to_string(uri.port);
  return key;
}

std::size_t LocationService::index(const Entry& entry) {
  auto uri = sip::parse_uri(entry.binding.contact);
  auto aor = aors_.find(entry.binding.aor);
  if (!uri.ok() || !uri->is_sip() || aor == aors_.end()) return 0;
  const std::size_t key_hash = key_hash_of(uri.value());
  by_contact_.emplace(key_hash, &aor->first);
  return key_hash;
}

void LocationService::unindex(const Entry& entry, std::size_t key_hash) {
  if (key_hash == 0) return;
  auto [first, last] = by_contact_.equal_range(key_hash);
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
    for (const Entry& e : entries->second.entries) {
      auto contact = sip::parse_uri(e.binding.contact);
      if (contact.ok() && contact->scheme == uri.scheme && contact_key(contact.value()) == key) return &e.binding;
    }
  }
  return nullptr;
}

const store::Binding* LocationService::find(std::string_view aor, std::string_view contact) const {
  auto it = aors_.find(aor);
  if (it == aors_.end()) return nullptr;
  const std::size_t i = find_contact(it->second, contact, text_hash(contact));
  return i < it->second.entries.size() ? &it->second.entries[i].binding : nullptr;
}

void LocationService::arm(const std::string& aor, Bindings& bindings, std::int64_t expires_at) {
  if (bindings.expiry_at != 0 && bindings.expiry_at <= expires_at) return;  // it fires first anyway
  timers_.cancel(bindings.expiry);
  bindings.expiry_at = expires_at;
  const std::int64_t remaining = expires_at - now_();
  bindings.expiry = timers_.schedule_after(std::chrono::seconds(std::max<std::int64_t>(remaining, 0)),
                                           [this, key = &aor] { expire(*key); });  // a copy: see expire()
}

void LocationService::expire(std::string aor) {
  auto found = aors_.find(aor);
  if (found == aors_.end()) return;
  found->second.expiry = {};
  found->second.expiry_at = 0;
  const std::int64_t now = now_();
  std::vector<std::string> expired;
  for (const Entry& e : found->second.entries) {
    if (e.binding.expires_at <= now) expired.push_back(e.binding.contact);
  }
  for (const std::string& contact : expired) {
    spdlog::debug("binding {} -> {} expired", aor, contact);
    auto status = remove(aor, contact);
    if (!status.ok() && !status.is_not_found()) {
      spdlog::error("cannot remove expired binding {} -> {}: {}", aor, contact, status.message());
    }
  }
  // An observer may have changed the AOR meanwhile: look again, and arm for what is left.
  found = aors_.find(aor);
  if (found == aors_.end() || found->second.expiry_at != 0) return;
  std::int64_t next = 0;
  for (const Entry& e : found->second.entries) {
    if (next == 0 || e.binding.expires_at < next) next = e.binding.expires_at;
  }
  if (next != 0) arm(found->first, found->second, next);
}

std::int64_t LocationService::new_id() {
  const std::int64_t stride = id_stride_;
  const std::int64_t id = next_id_ + ((id_offset_ - next_id_ % stride) % stride + stride) % stride;
  next_id_ = id + 1;
  return id;
}

store::Status LocationService::put(store::Binding binding) {
  binding.updated_at = now_();
  auto [it, added] = aors_.try_emplace(binding.aor);
  Bindings& bindings = it->second;
  const std::size_t contact_hash = text_hash(binding.contact);
  const std::size_t i = find_contact(bindings, binding.contact, contact_hash);
  if (i == bindings.entries.size()) {
    binding.id = new_id();
    add(bindings, {std::move(binding)}, contact_hash);
  } else {
    binding.id = bindings.entries[i].binding.id;
    bindings.entries[i].binding = std::move(binding);
  }
  Entry& entry = bindings.entries[i];
  arm(it->first, bindings, entry.binding.expires_at);
  store::Status status = store_ ? store_->put_binding(entry.binding) : store::Status{};
  const std::string aor = entry.binding.aor;  // an observer may change the entries
  notify(aor, true);
  return status;
}

store::Status LocationService::remove(std::string_view aor, std::string_view contact) {
  auto found = aors_.find(aor);
  if (found != aors_.end()) {
    Bindings& bindings = found->second;
    const std::size_t i = find_contact(bindings, contact, text_hash(contact));
    if (i < bindings.entries.size()) {
      const Entry& entry = bindings.entries[i];
      unindex(entry, bindings.hashes[i].key);
      store::Status status = store_ ? store_->remove_binding(entry.binding.id) : store::Status{};
      bindings.entries.erase(bindings.entries.begin() + static_cast<std::ptrdiff_t>(i));
      bindings.hashes.erase(bindings.hashes.begin() + static_cast<std::ptrdiff_t>(i));
      --count_;
      if (bindings.entries.empty()) {
        timers_.cancel(bindings.expiry);
        aors_.erase(found);
      }
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
    const Bindings& bindings = found->second;
    for (std::size_t i = 0; i < bindings.entries.size(); ++i) {
      const Entry& e = bindings.entries[i];
      unindex(e, bindings.hashes[i].key);
      store::Status removed = store_ ? store_->remove_binding(e.binding.id) : store::Status{};
      if (status.ok()) status = removed;  // the first failure is the one reported
    }
    count_ -= bindings.entries.size();
    timers_.cancel(bindings.expiry);
    aors_.erase(found);
  }
  notify(std::string(aor), false);
  return status;
}

}  // namespace herald::services::registrar
