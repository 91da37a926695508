#include "sip/stack/owner.h"

#include <fmt/format.h>

#include <charconv>

#include "sip/msg/grammar.h"
#include "sip/msg/headers.h"
#include "sip/msg/uri.h"

namespace herald::sip {
namespace {

constexpr std::size_t kSlotTagSize = 1 + 4 + 16;

Slot slot_of_uri(const Parsed<Uri>& uri, std::string_view text) {
  if (uri.ok() && uri->is_sip()) return slot_of(address_of_record(uri.value()));
  return slot_of(text);  // not an AOR: any fixed owner will do
}

}  // namespace

Slot slot_of(std::string_view aor_key) { return static_cast<Slot>(grammar::hash64(aor_key) >> 48); }

std::string slot_tag(Slot slot, std::uint64_t random) { return fmt::format("h{:04x}{:016x}", slot, random); }

std::optional<Slot> slot_of_tag(std::string_view tag) {
  if (tag.size() != kSlotTagSize || tag[0] != 'h') return std::nullopt;
  for (char c : tag.substr(1)) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
  }
  unsigned slot = 0;
  std::from_chars(tag.data() + 1, tag.data() + 5, slot, 16);
  return static_cast<Slot>(slot);
}

Slot request_slot(const Message& request) {
  const Method method = request.method();
  if (method != Method::kAck && method != Method::kCancel) {
    if (const HeaderField* to = request.find(HeaderId::kTo)) {
      auto parsed = hdr::To::parse(to->value);
      if (parsed.ok()) {
        if (auto tag = parsed->tag()) {
          if (auto slot = slot_of_tag(*tag)) return *slot;
        }
        if (method == Method::kRegister && parsed->uri.is_sip()) return slot_of(address_of_record(parsed->uri));
      }
    }
  }
  return slot_of_uri(request.request_uri(), request.request_uri_text());
}

}  // namespace herald::sip
