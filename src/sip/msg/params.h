#pragma once

#include <optional>
#include <string_view>

namespace herald::sip {

// One ";name[=value]" parameter. `value` is empty when the parameter has no value;
// `has_value` tells "name" from "name=" apart (the latter is malformed and never yielded).
struct Param {
  std::string_view name;
  std::string_view value;  // raw: a quoted-string keeps its quotes (see unquote())
  bool has_value = false;
};

// The two parameter grammars of RFC 3261: header parameters (generic-param, with LWS
// around ";" and "=", values token / host / quoted-string) and URI parameters
// (paramchar only, escapes allowed, no white space).
enum class ParamSyntax { kHeader, kUri };

// A view over a run of parameters as written, starting at the first ';' (or empty).
// Validated once when its owner is parsed; lookups then scan without allocating.
// Lifetime: a view into the message (or string) it was parsed from.
class ParamList {
 public:
  ParamList() = default;
  ParamList(std::string_view raw, ParamSyntax syntax) : raw_(raw), syntax_(syntax) {}

  // Checks every parameter against the grammar; returns false on the first bad one
  // (empty name, "name=" with no value, a bad character, an unterminated quote).
  bool valid() const;
  // The same check, calling f(const Param&) for each good parameter on the way; false as
  // soon as f returns false (the caller knows why) or a parameter is bad.
  template <class F>
  bool valid(F&& f) const {
    std::string_view rest = raw_;
    Param p;
    while (true) {
      switch (next(rest, p)) {
        case Step::kParam:
          if (!f(p)) return false;
          break;
        case Step::kEnd: return true;
        case Step::kBad: return false;
      }
    }
  }

  // The first parameter called `name` (case-insensitive). nullopt when absent; an empty
  // view when present without a value (e.g. ";lr", ";rport").
  std::optional<std::string_view> find(std::string_view name) const;
  bool has(std::string_view name) const { return find(name).has_value(); }

  // Calls f(const Param&) for each parameter in order; stops when f returns false.
  template <class F>
  void for_each(F&& f) const {
    std::string_view rest = raw_;
    Param p;
    while (next(rest, p) == Step::kParam) {
      if (!f(p)) return;
    }
  }

  std::string_view raw() const { return raw_; }
  bool empty() const { return raw_.empty(); }

 private:
  enum class Step { kParam, kEnd, kBad };
  Step next(std::string_view& rest, Param& out) const;

  std::string_view raw_;
  ParamSyntax syntax_ = ParamSyntax::kHeader;
};

// Strips the quotes of a quoted-string (escapes are left as written); other text unchanged.
std::string_view unquote(std::string_view value);

}  // namespace herald::sip
