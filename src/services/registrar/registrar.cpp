#include "services/registrar/registrar.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <ctime>
#include <limits>

#include "sip/msg/grammar.h"
#include "sip/transport/address_text.h"
#include "sip/txn/transaction_key.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace herald::services::registrar {
namespace {

using sip::HeaderId;
using sip::Message;

// One Contact of the REGISTER, checked, with the expiry the registrar grants.
struct ContactChange {
  std::string contact;  // URI text as registered, or the stored spelling of an equal binding
  std::uint32_t expires = 0;
  int q = -1;
  std::string instance;
};

using sip::grammar::lower;

// Whether the REGISTER says Supported: path (RFC 3327 §5.3: the 200 then echoes Path).
bool supports_path(const Message& request) {
  bool with_path = false;
  request.for_each<sip::hdr::Supported>([&](std::string_view tag) {
    with_path = with_path || sip::grammar::iequals(tag, "path");
    return !with_path;
  });
  return with_path;
}

std::string source_text(const sip::transport::Source& s) {
  std::string text(sip::transport::kind_of(s.protocol).param);
  text.push_back(':');
  sip::transport::append_endpoint(text, s.remote_address, s.remote_port);
  return text;
}

// The Contact headers of a REGISTER (§10.3 step 6).
struct ContactList {
  bool star = false;                             // a Contact: *
  std::optional<std::uint32_t> request_expires;  // the Expires header's
  std::vector<ContactChange> changes;            // every other contact, in order
  std::vector<sip::Uri> uris;                    // changes[i]'s URI
  std::optional<std::uint32_t> too_brief;        // an expiry asked below min_expires
};

// nullopt when a Contact header is malformed.
std::optional<ContactList> read_contacts(const Message& request, const RegistrarConfig& config) {
  ContactList list;
  auto expires_header = request.get<sip::hdr::Expires>();
  if (expires_header.ok()) list.request_expires = expires_header.value();
  auto contacts = request.for_each<sip::hdr::Contact>([&](const sip::ContactValue& c) {
    if (c.star) {
      list.star = true;
      return true;
    }
    ContactChange change;
    change.contact = std::string(c.address.uri.text);
    std::uint32_t expires = c.expires().value_or(list.request_expires.value_or(config.default_expires));
    if (expires != 0 && expires < config.min_expires) list.too_brief = expires;
    change.expires = std::min(expires, config.max_expires);
    change.q = c.q().value_or(-1);
    if (auto instance = c.address.params.find("+sip.instance")) change.instance = std::string(sip::unquote(*instance));
    list.changes.push_back(std::move(change));
    list.uris.push_back(c.address.uri);
    return true;
  });
  if (contacts.malformed()) return std::nullopt;
  return list;
}

// Applies `changes` to the bindings of `common.aor` (§10.3 step 8): a contact with expiry 0
// is removed, any other put as `common` with the contact's own fields. Returns how many
// were removed.
std::size_t apply_changes(LocationService& location, const std::vector<ContactChange>& changes,
                          const store::Binding& common) {
  std::int64_t now = location.now();
  std::size_t removed = 0;
  for (const ContactChange& c : changes) {
    if (c.expires == 0) {
      if (auto s = location.remove(common.aor, c.contact); !s.ok() && !s.is_not_found()) {
        spdlog::error("store: {}", s.message());
      }
      ++removed;
      continue;
    }
    store::Binding b = common;
    b.contact = c.contact;
    b.expires_at = now + c.expires;
    b.q = c.q;
    b.instance = c.instance;
    if (auto s = location.put(std::move(b)); !s.ok()) spdlog::error("store: {}", s.message());
  }
  return removed;
}

void log_changes(std::string_view call_id, std::string_view aor, std::size_t changed, std::size_t removed) {
  if (changed == 0) {
    spdlog::debug("call-id={} {} bindings fetched", call_id, aor);
  } else if (removed == changed) {
    spdlog::info("call-id={} {} unregistered {} contact(s)", call_id, aor, removed);
  } else if (removed == 0) {
    spdlog::info("call-id={} {} registered {} contact(s)", call_id, aor, changed);
  } else {
    spdlog::info("call-id={} {} registered {} and unregistered {} contact(s)", call_id, aor, changed - removed,
                 removed);
  }
}

}  // namespace

std::string rfc1123_date(std::int64_t unix_seconds) {
  // Every answer within a second asks for the same text: formatted once per second and
  // thread (gmtime_r and strftime were 1 % of a REGISTER's time on the event loop).
  thread_local std::int64_t formatted_for = std::numeric_limits<std::int64_t>::min();
  thread_local std::string formatted;
  if (unix_seconds != formatted_for) {
    std::time_t t = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[40];
    std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    formatted = buf;
    formatted_for = unix_seconds;
  }
  return formatted;
}

Registrar::Registrar(RegistrarConfig config, LocationService& location, UserExists user_exists)
    : config_(std::move(config)), location_(location), user_exists_(std::move(user_exists)),
      random_(std::random_device{}()), tag_salt_(random_()) {
  for (std::string& d : config_.domains) d = lower(d);
  std::random_device entropy;
  for (unsigned char& byte : secret_) byte = static_cast<unsigned char>(entropy());
}

bool Registrar::serves_domain(std::string_view host) const {
  std::string h = lower(host);
  return std::find(config_.domains.begin(), config_.domains.end(), h) != config_.domains.end();
}

Message Registrar::reply(const Message& request, int code, std::string_view reason) {
  // §8.2.6.2: every response to a request carries the same To tag; answered without a
  // transaction, a copy's tag is derived from what the copy shares with the original.
  const std::uint64_t tag =
      stateless_key_ != nullptr ? stateless_key_->low ^ tag_salt_ : random_();
  return sip::make_response(request, code, reason, fmt::format("{:016x}", tag));
}

Message Registrar::out_of_order(const Message& request) {
  // §10.3 step 7: 500, with Retry-After as §21.5.1 allows: the client's CSeq ordering
  // settles within a retransmission interval.
  Message r = reply(request, 500, "Out of order REGISTER");
  r.remove(HeaderId::kContentLength);
  r.append(HeaderId::kRetryAfter, std::to_string(1 + random_() % 10));
  r.append(HeaderId::kContentLength, "0");
  return r;
}

Message Registrar::bindings_reply(const Message& request, const std::string& aor, bool with_path) {
  Message r = reply(request, 200, "OK");
  r.remove(HeaderId::kContentLength);
  std::int64_t now = location_.now();
  std::vector<std::string> path;
  // Every current binding, in no particular order (§10.3 step 8), as one Contact header
  // (§7.3.1: a comma-separated list is the same as one header per value). An AOR with many
  // devices is answered with one copy of the list, not a header and a copy per binding,
  // written in place in the response: its pieces are copied once.
  // Beyond the contact and instance texts: ", <" ">;expires=" 20 digits ";q=1.000" and
  // ";+sip.instance=\"" "\"", rounded up.
  constexpr std::size_t kRoomPerBinding = 64;
  std::size_t room = 0;
  location_.for_each(aor, [&](const store::Binding& b) {
    room += kRoomPerBinding + b.contact.size() + b.instance.size();
    // Each contact's text is a heap block of its own, rarely in cache when a loaded server
    // comes back to this AOR: asked for now, every block of the list is fetched at once,
    // not one after the other as the copy below reaches them.
    __builtin_prefetch(b.contact.data());
  });
  if (room > 0) {
    r.append_written(HeaderId::kContact, room, [&](char* const begin) {
      char* at = begin;
      const auto put = [&at](std::string_view text) { at = std::copy(text.begin(), text.end(), at); };
      location_.for_each(aor, [&](const store::Binding& b) {
        if (at != begin) put(", ");
        put("<");
        put(b.contact);
        put(">;expires=");
        at = std::to_chars(at, at + 20, std::max<std::int64_t>(b.expires_at - now, 0)).ptr;
        if (b.q >= 0) {  // thousandths: "0.5" is written "0.500"
          const int q = std::min(b.q, 1000);
          put(";q=");
          *at++ = static_cast<char>('0' + q / 1000);
          *at++ = '.';
          const int frac = q % 1000;
          *at++ = static_cast<char>('0' + frac / 100);
          *at++ = static_cast<char>('0' + frac / 10 % 10);
          *at++ = static_cast<char>('0' + frac % 10);
        }
        if (!b.instance.empty()) {
          put(";+sip.instance=\"");
          put(b.instance);
          put("\"");
        }
      });
      return at;
    });
  }
  if (with_path) {
    request.for_each<sip::hdr::Path>([&](const sip::NameAddr& p) {
      path.emplace_back(fmt::format("<{}>", p.uri.text));
      return true;
    });
    for (const std::string& p : path) r.append(HeaderId::kPath, p);
  }
  r.append(HeaderId::kDate, rfc1123_date(now));
  r.append(HeaderId::kContentLength, "0");
  return r;
}

std::optional<Registrar::CopyKey> Registrar::copy_key(const Message& request) const {
  auto key = sip::txn::server_key(request);
  if (!key) return std::nullopt;
  return copy_key(request, *key);
}

std::optional<Registrar::CopyKey> Registrar::copy_key(const Message& request, std::string_view server_key) const {
  // What names the registration is in it too, so that knowing a branch does not make
  // another AOR's bindings readable.
  const sip::HeaderField* call_id = request.find(HeaderId::kCallId);
  const sip::HeaderField* cseq = request.find(HeaderId::kCSeq);
  const sip::HeaderField* to = request.find(HeaderId::kTo);
  if (call_id == nullptr || cseq == nullptr || to == nullptr) return std::nullopt;
  copy_text_.assign(server_key);
  for (std::string_view part : {call_id->value, cseq->value, to->value}) copy_text_.append(1, '\n').append(part);
  const XXH128_hash_t hash = XXH3_128bits_withSecret(copy_text_.data(), copy_text_.size(), secret_.data(), secret_.size());
  return CopyKey{hash.low64, hash.high64};
}

std::optional<Message> Registrar::answer_copy(const Message& request, const CopyKey& key) {
  if (remembered_order_.empty()) return std::nullopt;
  forget_expired(location_.now());
  if (segment(key).count(key) == 0) return std::nullopt;
  auto to = request.get<sip::hdr::To>();
  if (!to.ok()) return std::nullopt;
  std::string aor = sip::address_of_record(to->uri);
  spdlog::debug("call-id={} {} REGISTER retransmitted: answered with the bindings as they are",
                request.find(HeaderId::kCallId)->value, aor);
  stateless_key_ = &key;  // the original's To tag
  Message response = bindings_reply(request, aor, supports_path(request));
  stateless_key_ = nullptr;
  return response;
}

void Registrar::forget_expired(std::int64_t now) {
  while (!remembered_order_.empty() &&
         (remembered_order_.front().until <= now || remembered_order_.size() > config_.max_remembered)) {
    const CopyKey& oldest = remembered_order_.front().key;
    segment(oldest).erase(oldest);
    remembered_order_.pop_front();
  }
}

void Registrar::remember(const CopyKey& key, std::int64_t now) {
  if (!segment(key).insert(key).second) return;
  remembered_order_.push_back({now + config_.retransmission_window, key});
  forget_expired(now);
}

Message Registrar::handle(const Message& request, const sip::transport::Source& source,
                          const std::optional<std::string>& identity, const CopyKey* stateless_key) {
  stateless_key_ = stateless_key;
  Message response = judge(request, source, identity);
  stateless_key_ = nullptr;
  return response;
}

Message Registrar::judge(const Message& request, const sip::transport::Source& source,
                         const std::optional<std::string>& identity) {
  // §10.3 step 1: the Request-URI names a domain this registrar serves.
  const sip::Uri& ruri = request.request_uri().value();
  if (!serves_domain(ruri.host)) return reply(request, 403, "Domain not served here");
  // Step 5: the To header names the address-of-record.
  auto to = request.get<sip::hdr::To>();
  if (!to->uri.is_sip()) return reply(request, 400, "To must hold a SIP or SIPS URI");
  std::string aor = sip::address_of_record(to->uri);
  if (!serves_domain(to->uri.host)) return reply(request, 403, "Domain not served here");
  // Step 3/4: the authenticated identity may modify this AOR.
  if (identity && *identity != aor) return reply(request, 403, "Authenticated identity does not match To");
  if (!identity && !user_exists_(aor)) {
    return reply(request, config_.unknown_user_status,
                 config_.unknown_user_status == 404 ? "Not Found" : "Forbidden");
  }

  // Step 6: the contacts and their expiry.
  std::optional<ContactList> contacts = read_contacts(request, config_);
  if (!contacts) return reply(request, 400, "Malformed Contact header");

  auto call_id = std::string(request.get<sip::hdr::CallId>().value());
  std::uint32_t cseq = request.get<sip::hdr::CSeq>()->number;
  const bool with_path = supports_path(request);
  auto accepted = [&] {
    if (stateless_key_ != nullptr) remember(*stateless_key_, location_.now());
    return bindings_reply(request, aor, with_path);
  };

  if (contacts->star) {
    // "*" only alone and with Expires: 0 (§10.3 step 6).
    if (!contacts->changes.empty() || !contacts->request_expires || *contacts->request_expires != 0) {
      return reply(request, 400, "Contact * needs Expires: 0 and no other Contact");
    }
    // An older Call-ID/CSeq must not remove newer bindings.
    bool older = false;
    location_.for_each(aor, [&](const store::Binding& b) { older = older || (b.call_id == call_id && cseq <= b.cseq); });
    if (older) return out_of_order(request);
    if (auto s = location_.remove_all(aor); !s.ok()) spdlog::error("store: {}", s.message());
    spdlog::info("call-id={} {} unregistered all contacts", call_id, aor);
    return accepted();
  }
  if (contacts->too_brief) {
    Message r = reply(request, 423, "Interval Too Brief");
    r.remove(HeaderId::kContentLength);
    r.append(HeaderId::kMinExpires, std::to_string(config_.min_expires));
    r.append(HeaderId::kContentLength, "0");
    return r;
  }
  // Step 7, on the bindings as they are before this request: the existing binding each
  // contact refers to (equal URIs, §19.1.4). Its stored spelling is kept, so refreshes find
  // the same key. The whole request is refused when any contact is out of order (same
  // Call-ID, CSeq not higher); nothing is applied.
  std::vector<ContactChange>& changes = contacts->changes;
  for (std::size_t i = 0; i < changes.size(); ++i) {
    const store::Binding* existing = location_.match(aor, contacts->uris[i]);
    if (existing == nullptr) continue;
    if (existing->call_id == call_id && cseq <= existing->cseq) return out_of_order(request);
    changes[i].contact = existing->contact;
  }
  store::Binding common;
  common.aor = aor;
  common.call_id = call_id;
  common.cseq = cseq;
  request.for_each<sip::hdr::Path>([&](const sip::NameAddr& p) {
    common.path.emplace_back(p.uri.text);
    return true;
  });
  common.received = source_text(source);
  const std::size_t removed = apply_changes(location_, changes, common);
  log_changes(call_id, aor, changes.size(), removed);
  return accepted();
}

}  // namespace herald::services::registrar
