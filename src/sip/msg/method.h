#pragma once

#include <cstdint>
#include <string_view>

namespace herald::sip {

// Methods Herald knows by name (RFC 3261 and its extensions). Anything else is kOther and
// keeps its name as written (methods are case-sensitive: "invite" is an extension method).
enum class Method : std::uint8_t {
  kOther,
  kInvite,
  kAck,
  kBye,
  kCancel,
  kOptions,
  kRegister,
  kPrack,
  kSubscribe,
  kNotify,
  kPublish,
  kInfo,
  kRefer,
  kMessage,
  kUpdate,
};

Method method_from_name(std::string_view name);
// The canonical name; empty for kOther.
std::string_view method_name(Method m);

}  // namespace herald::sip
