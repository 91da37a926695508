#include <algorithm>

#include "sip/msg/grammar.h"
#include "sip/transport/transport_user.h"

namespace herald::sip::transport {
namespace {

std::vector<TransportKind> make_kinds() {
  std::vector<TransportKind> kinds;
  TransportKind udp;
  udp.protocol = Protocol::kUdp;
  udp.via = "UDP";
  udp.param = "udp";
  udp.message_framed = true;
  kinds.push_back(udp);
  TransportKind tcp;
  tcp.protocol = Protocol::kTcp;
  tcp.via = "TCP";
  tcp.param = "tcp";
  tcp.reliable = true;
  tcp.stream = true;
  tcp.connection = true;
  kinds.push_back(tcp);
  return kinds;
}

}  // namespace

const std::vector<TransportKind>& transport_kinds() {
  static const std::vector<TransportKind> kinds = make_kinds();
  return kinds;
}

const TransportKind& kind_of(Protocol protocol) noexcept {
  // The table is in enum order.
  return transport_kinds()[static_cast<std::size_t>(protocol)];
}

std::optional<Protocol> protocol_of_via(std::string_view text) noexcept {
  for (const TransportKind& k : transport_kinds()) {
    if (grammar::iequals(k.via, text)) return k.protocol;
  }
  return std::nullopt;
}

std::optional<Protocol> protocol_of_param(std::string_view text) noexcept {
  for (const TransportKind& k : transport_kinds()) {
    if (grammar::iequals(k.param, text)) return k.protocol;
  }
  return std::nullopt;
}

std::string uri_transport_param(Protocol protocol) {
  if (protocol == Protocol::kUdp) return {};
  return ";transport=" + std::string(kind_of(protocol).param);
}

}  // namespace herald::sip::transport
