#include "sip/msg/header_table.h"

#include "sip/msg/grammar.h"

namespace herald::sip {
HeaderId header_id(std::string_view name) {
  if (name.empty()) return HeaderId::kOther;
  if (name.size() == 1) {
    char c = grammar::to_lower(name.front());
    for (const HeaderInfo& info : kHeaderTable) {
      if (info.compact == c) return info.id;
    }
    return HeaderId::kOther;
  }
  // Names are short and the table small: filter on length and first letter, then compare.
  char first = grammar::to_lower(name.front());
  for (const HeaderInfo& info : kHeaderTable) {
    if (info.name.size() == name.size() && grammar::to_lower(info.name.front()) == first &&
        grammar::iequals(info.name, name)) {
      return info.id;
    }
  }
  return HeaderId::kOther;
}

}  // namespace herald::sip
