#include "sip/transport/address_text.h"

#include <array>
#include <charconv>

namespace herald::sip::transport {

void append_address(std::string& out, const boost::asio::ip::address& address) {
  if (!address.is_v4()) {
    out += address.to_string();
    return;
  }
  const auto bytes = address.to_v4().to_bytes();
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i != 0) out += '.';
    std::array<char, 3> digits{};  // "255"
    const char* end = std::to_chars(digits.data(), digits.data() + digits.size(), bytes[i]).ptr;
    out.append(digits.data(), static_cast<std::size_t>(end - digits.data()));
  }
}

void append_endpoint(std::string& out, const boost::asio::ip::address& address, std::uint16_t port) {
  if (address.is_v6()) out += '[';
  append_address(out, address);
  if (address.is_v6()) out += ']';
  out += ':';
  std::array<char, 5> digits{};  // "65535"
  const char* end = std::to_chars(digits.data(), digits.data() + digits.size(), port).ptr;
  out.append(digits.data(), static_cast<std::size_t>(end - digits.data()));
}

}  // namespace herald::sip::transport
