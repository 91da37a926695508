#include "sip/msg/header_table.h"

#include "sip/msg/grammar.h"

namespace herald::sip {
namespace {

// header_id() runs for every header line received, so names are looked up in an
// open-addressing index built at compile time from kHeaderTable, keyed by length and the
// case-folded first and last letters; a hit is confirmed with one case-insensitive compare.
constexpr std::size_t kSlots = 256;  // a power of two, well above kHeaderCount

constexpr std::size_t name_slot(std::string_view name) {
  std::size_t first = static_cast<unsigned char>(grammar::to_lower(name.front()));
  std::size_t last = static_cast<unsigned char>(grammar::to_lower(name.back()));
  return (name.size() * 131 + first * 31 + last) % kSlots;
}

struct NameIndex {
  std::array<HeaderId, kSlots> by_name{};       // kOther marks an empty slot
  std::array<HeaderId, 256> by_compact_form{};  // lower-case compact letter -> id
};

constexpr NameIndex make_index() {
  NameIndex index{};
  for (const HeaderInfo& info : kHeaderTable) {
    if (info.id == HeaderId::kOther) continue;
    std::size_t slot = name_slot(info.name);
    while (index.by_name[slot] != HeaderId::kOther) slot = (slot + 1) % kSlots;
    index.by_name[slot] = info.id;
    if (info.compact != 0) index.by_compact_form[static_cast<unsigned char>(info.compact)] = info.id;
  }
  return index;
}

constexpr NameIndex kIndex = make_index();

}  // namespace

HeaderId header_id(std::string_view name) {
  if (name.empty()) return HeaderId::kOther;
  if (name.size() == 1) {
    return kIndex.by_compact_form[static_cast<unsigned char>(grammar::to_lower(name.front()))];
  }
  for (std::size_t slot = name_slot(name); kIndex.by_name[slot] != HeaderId::kOther; slot = (slot + 1) % kSlots) {
    HeaderId id = kIndex.by_name[slot];
    if (grammar::iequals(header_info(id).name, name)) return id;
  }
  return HeaderId::kOther;
}

}  // namespace herald::sip
