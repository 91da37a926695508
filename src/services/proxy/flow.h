#pragma once

// The text form of a connection a request came on, "tcp:ADDR:PORT" ("tcp:[::1]:5070" for
// IPv6; the kind's URI parameter, for any kind with connections): the registrar keeps it as a binding's `received`, the notifier as a subscription's
// flow, so that later requests can go back over the same connection while it is open.

#include <boost/asio/ip/address.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "sip/msg/grammar.h"
#include "sip/transport/address_text.h"
#include "sip/transport/transport_user.h"

namespace herald::services::proxy {

// "tcp:ADDR:PORT" as a destination (that kind to that address and port, no connection id: the
// transport reuses an open connection to it). nullopt for any other text ("udp:…" included).
inline std::optional<sip::transport::Destination> flow_of(std::string_view received) {
  const std::size_t prefix = received.find(':');
  if (prefix == std::string_view::npos) return std::nullopt;
  const auto protocol = sip::transport::protocol_of_param(received.substr(0, prefix));
  if (!protocol || !sip::transport::kind_of(*protocol).connection) return std::nullopt;
  received.remove_prefix(prefix + 1);
  const std::size_t colon = received.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string_view host = received.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(std::string(host), ec);
  auto port = sip::grammar::parse_uint(received.substr(colon + 1), 65535);
  if (ec || !port) return std::nullopt;
  return sip::transport::Destination{*protocol, address, static_cast<std::uint16_t>(*port), std::nullopt};
}

// The flow text of a source over a connection ("tcp:ADDR:PORT", IPv6 in brackets); empty for
// UDP.
inline std::string flow_text(const sip::transport::Source& source) {
  const sip::transport::TransportKind& kind = sip::transport::kind_of(source.protocol);
  if (!kind.connection) return {};
  std::string text(kind.param);
  text.push_back(':');
  sip::transport::append_endpoint(text, source.remote_address, source.remote_port);
  return text;
}

}  // namespace herald::services::proxy
