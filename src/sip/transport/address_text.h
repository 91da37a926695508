#pragma once

#include <fmt/format.h>

#include <boost/asio/ip/address.hpp>
#include <cstdint>
#include <string>
#include <string_view>

// An address as text, on the paths every request takes: the received= a Via is stamped
// with, the source a binding remembers. IPv4 is written by hand; Boost's to_string() goes
// through inet_ntop and took 1,850 instructions an address, a third of stamping a Via.
namespace herald::sip::transport {

// Appends "192.0.2.1", or an IPv6 address as inet_ntop writes it (no brackets).
void append_address(std::string& out, const boost::asio::ip::address& address);

// Appends "192.0.2.1:5060" or "[2001:db8::1]:5060".
void append_endpoint(std::string& out, const boost::asio::ip::address& address, std::uint16_t port);

inline std::string address_text(const boost::asio::ip::address& address) {
  std::string text;
  append_address(text, address);
  return text;
}

}  // namespace herald::sip::transport

// Lets a log line take the address itself: it is formatted only when the line is written
// (an argument written as address.to_string() is formatted at every call, logged or not).
template <>
struct fmt::formatter<boost::asio::ip::address> : fmt::formatter<std::string_view> {
  auto format(const boost::asio::ip::address& address, fmt::format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(herald::sip::transport::address_text(address), ctx);
  }
};
