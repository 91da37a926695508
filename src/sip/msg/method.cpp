#include "sip/msg/method.h"

#include <array>
#include <utility>

namespace herald::sip {
namespace {

constexpr std::array<std::pair<Method, std::string_view>, 14> kMethods = {{
    {Method::kInvite, "INVITE"},
    {Method::kAck, "ACK"},
    {Method::kBye, "BYE"},
    {Method::kCancel, "CANCEL"},
    {Method::kOptions, "OPTIONS"},
    {Method::kRegister, "REGISTER"},
    {Method::kPrack, "PRACK"},
    {Method::kSubscribe, "SUBSCRIBE"},
    {Method::kNotify, "NOTIFY"},
    {Method::kPublish, "PUBLISH"},
    {Method::kInfo, "INFO"},
    {Method::kRefer, "REFER"},
    {Method::kMessage, "MESSAGE"},
    {Method::kUpdate, "UPDATE"},
}};

}  // namespace

Method method_from_name(std::string_view name) {
  for (const auto& [m, n] : kMethods) {
    if (n == name) return m;
  }
  return Method::kOther;
}

std::string_view method_name(Method m) {
  for (const auto& [mm, n] : kMethods) {
    if (mm == m) return n;
  }
  return {};
}

}  // namespace herald::sip
