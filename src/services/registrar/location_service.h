#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "sip/msg/uri.h"
#include "sip/stack/owner.h"
#include "sip/txn/timer_service.h"
#include "store/store.h"

namespace herald::services::registrar {

// The location service (RFC 3261 §10.2): the bindings of every address-of-record, held in
// memory so lookups never wait for the disk, written through to the store on each change,
// and expired on time by one timer per AOR on the shard's TimerService, armed for the
// AOR's earliest expiry (no scans of the whole table). A new binding or a refresh rarely
// expires before the ones the AOR has: it then touches no timer. A timer per binding
// (holding copies of its AOR and contact) was a quarter of a binding's memory.
//
// Threading: one instance per shard, used on its thread. `store` may be null (memory only);
// otherwise it must outlive the service and belong to the same thread.
class LocationService {
 public:
  using Clock = std::function<std::int64_t()>;  // unix seconds
  // Told after every change of an AOR's bindings: `registered` is true after a put (a new
  // binding or a refresh), false after a removal or expiry.
  using Observer = std::function<void(const std::string& aor, bool registered)>;

  LocationService(sip::txn::TimerService& timers, store::BindingStore* store, Clock now);
  LocationService(const LocationService&) = delete;
  LocationService& operator=(const LocationService&) = delete;
  ~LocationService();

  // Reads every stored binding (after a restart): live ones are kept with their remaining
  // lifetime, expired ones removed from the store. Returns how many were kept.
  std::size_t load();
  // Before load(): only the AORs `owned` names are this service's (the shard's), and binding ids
  // are this shard's share of them, `offset` modulo `stride` (no two shards write one row).
  void share(sip::OwnedAor owned, std::uint32_t stride, std::uint32_t offset) {
    owned_ = std::move(owned);
    id_stride_ = std::max<std::uint32_t>(stride, 1);
    id_offset_ = offset % id_stride_;
  }
  // Reserves `buckets` in the tables that grow with the bindings, at 4 bindings a bucket, so
  // that they do not rehash all at once (holding the loop) below 4 x buckets bindings.
  void presize(std::size_t buckets);

  // The live bindings of `aor`, ordered by q (highest first), then most recently updated.
  // Empty when there are none.
  std::vector<store::Binding> lookup(std::string_view aor) const;
  // How many live bindings `aor` has (no copy).
  std::size_t count(std::string_view aor) const;
  // Calls visit(const store::Binding&) for each live binding of `aor`, in no particular
  // order, without copying. The service must not be changed during the visit.
  template <typename Visit>
  void for_each(std::string_view aor, Visit&& visit) const {
    if (auto it = aors_.find(aor); it != aors_.end()) {
      for (const Entry& e : it->second.entries) visit(e.binding);
    }
  }
  // The live binding of `aor` whose contact is equal to `uri` (RFC 3261 §19.1.4), if any.
  // Only contacts with the same user, host and port are parsed and compared.
  const store::Binding* match(std::string_view aor, const sip::Uri& uri) const;
  const store::Binding* find(std::string_view aor, std::string_view contact) const;
  // The live binding whose contact has the user, host and port of `uri`, if any: a request
  // sent to a contact a user registered (or advertised, e.g. in PIDF) reaches that device.
  // URI parameters are not compared: peers drop them when they copy a contact (the seed's
  // "sip:s.possion@dist.probability.org" for a contact registered with ";transport=tcp").
  const store::Binding* find_by_contact(const sip::Uri& uri) const;

  // Adds an observer, called on the shard thread after each change (the change is visible).
  void observe(Observer observer) { observers_.push_back(std::move(observer)); }

  // Adds or replaces the binding (aor, contact) and (re)arms its expiry. Returns the store's
  // status (the memory copy is updated either way; a failed write is logged by the caller).
  // binding.id is ignored: a new binding gets the next id, a refreshed one keeps its own.
  store::Status put(store::Binding binding);
  // kNotFound, and the store is not asked, when `aor` has no binding to `contact`: the
  // memory copy holds every stored binding that has not expired.
  store::Status remove(std::string_view aor, std::string_view contact);
  // Removes each binding of `aor` from the store by its id (written behind, like a put).
  store::Status remove_all(std::string_view aor);

  std::size_t binding_count() const { return count_; }
  std::size_t aor_count() const { return aors_.size(); }
  std::int64_t now() const { return now_(); }

 private:
  struct Entry {
    store::Binding binding;
  };
  // What a search compares first, for one entry.
  struct Hashes {
    std::size_t key = 0;      // hash of contact_key() of the contact, 0 if not a SIP URI
    std::size_t contact = 0;  // hash of the contact's text: compared before the text
  };
  // The bindings of one AOR. hashes[i] belongs to entries[i]: a REGISTER searches the AOR's
  // contacts (it may have a hundred) twice, and reads 16 bytes of each from one array, not a
  // cache line of each 240-byte Entry (LocationService::match was 4 % of the loop's samples).
  struct Bindings {
    std::vector<Entry> entries;
    std::vector<Hashes> hashes;
    sip::txn::TimerId expiry;   // runs expire() for this AOR
    std::int64_t expiry_at = 0; // unix seconds it is armed for (0: none); at most the earliest expires_at
  };
  // Lets aors_ be searched with a string_view, without building a string.
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  // The index of the entry whose contact text is `contact` (`hash` its text_hash), or
  // entries.size(). Contacts may share a long prefix: one integer is compared each.
  static std::size_t find_contact(const Bindings& bindings, std::string_view contact, std::size_t hash);
  // Appends the entry (its contact's text hash `contact_hash`) and indexes it.
  void add(Bindings& bindings, Entry entry, std::size_t contact_hash);
  // Arms the AOR's timer for `expires_at` unless it is armed for that time or earlier.
  // `aor` is the key of `bindings` in aors_: the timer holds its address, stable until the
  // AOR goes (and its timer with it).
  void arm(const std::string& aor, Bindings& bindings, std::int64_t expires_at);
  // The AOR's timer: removes its bindings that have expired, arms it for the next. `aor` is
  // a copy: removing the AOR's last binding erases the key the timer holds.
  void expire(std::string aor);
  // Enters the entry's contact in by_contact_; returns its key hash (0: not a SIP URI, not entered).
  std::size_t index(const Entry& entry);
  void unindex(const Entry& entry, std::size_t key_hash);
  void notify(const std::string& aor, bool registered);

  sip::txn::TimerService& timers_;
  store::BindingStore* store_;
  Clock now_;
  std::unordered_map<std::string, Bindings, KeyHash, std::equal_to<>> aors_;
  std::size_t count_ = 0;
  // The id of the next new binding: above every stored one, so new bindings are appended to
  // the store's table (BindingStore). One LocationService writes to a store.
  std::int64_t next_id_ = 1;  // above every id in the store, whichever shard wrote it
  sip::OwnedAor owned_;       // empty: every AOR
  std::uint32_t id_stride_ = 1;
  std::uint32_t id_offset_ = 0;
  // The next binding id of this shard's share.
  std::int64_t new_id();
  // Hash of contact_key() of each contact → its AOR (the key string in aors_, stable while
  // the AOR has bindings). Keys may collide and AORs share contacts: find_by_contact()
  // checks each candidate.
  std::unordered_multimap<std::size_t, const std::string*> by_contact_;
  std::vector<Observer> observers_;
};

// "user@host:port" of a SIP URI, user unescaped, host lower-cased, port 0 when absent: what
// find_by_contact() compares.
std::string contact_key(const sip::Uri& uri);

}  // namespace herald::services::registrar
