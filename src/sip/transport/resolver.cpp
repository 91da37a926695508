#include "sip/transport/resolver.h"

#include <algorithm>
#include <array>
#include <fstream>
#include <utility>

#include "sip/msg/grammar.h"

namespace herald::sip::transport {

namespace ip = boost::asio::ip;

namespace {

constexpr std::uint16_t kDefaultSipPort = 5060;  // RFC 3263 §4.2

bool is_field_separator(char c) { return c == ' ' || c == '\t' || c == '\r'; }

// Takes the next space- or tab-separated field from the front of `line`; empty at the end.
std::string_view take_field(std::string_view& line) {
  std::size_t begin = 0;
  while (begin < line.size() && is_field_separator(line[begin])) ++begin;
  std::size_t end = begin;
  while (end < line.size() && !is_field_separator(line[end])) ++end;
  std::string_view field = line.substr(begin, end - begin);
  line.remove_prefix(end);
  return field;
}

// An IPv4 or IPv6 address as written, without a zone ("fe80::1%eth0"): Asio would look the zone
// up with if_nametoindex(), which opens a socket, and a zone means nothing to a remote peer.
std::optional<ip::address> numeric_address(std::string_view text) {
  if (text.find('%') != std::string_view::npos) return std::nullopt;
  boost::system::error_code ec;
  ip::address address = ip::make_address(text, ec);
  if (ec) return std::nullopt;
  return address;
}

}  // namespace

HostsFile HostsFile::parse(std::string_view text, std::filesystem::path path) {
  HostsFile hosts;
  hosts.path_ = std::move(path);
  while (!text.empty()) {
    std::size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    line = line.substr(0, line.find('#'));

    std::optional<ip::address> address = numeric_address(take_field(line));
    if (!address) continue;
    for (std::string_view name = take_field(line); !name.empty(); name = take_field(line)) {
      std::vector<ip::address>& addresses = hosts.names_[grammar::lower(name)];
      if (std::find(addresses.begin(), addresses.end(), *address) == addresses.end()) {
        addresses.push_back(*address);
      }
    }
  }
  return hosts;
}

HostsFile HostsFile::load(const std::filesystem::path& path) {
  // istream::read() turns a read error (EISDIR, EIO) into badbit instead of an exception.
  std::ifstream file(path, std::ios::binary);
  std::string text;
  std::array<char, 4096> chunk{};
  while (file.read(chunk.data(), chunk.size()) || file.gcount() > 0) {
    text.append(chunk.data(), static_cast<std::size_t>(file.gcount()));
  }
  if (file.bad()) text.clear();  // unreadable, or a directory: an empty table like a missing file
  return parse(text, path);
}

std::vector<ip::address> HostsFile::lookup(std::string_view name) const {
  if (name.size() > 1 && name.back() == '.') name.remove_suffix(1);
  auto found = names_.find(grammar::lower(name));
  if (found == names_.end()) return {};
  return found->second;
}

Resolution resolve(const Uri& uri, const HostsFile& hosts, std::optional<Protocol> preferred) {
  Resolution resolution;
  if (uri.scheme == UriScheme::kSips) {
    resolution.error = "sips needs TLS, which this server does not offer";
    return resolution;
  }
  if (uri.scheme != UriScheme::kSip) {
    resolution.error = "not a sip URI";
    return resolution;
  }

  Protocol protocol = preferred.value_or(Protocol::kUdp);
  if (std::string_view transport = uri.transport(); !transport.empty()) {
    if (grammar::iequals(transport, "udp")) {
      protocol = Protocol::kUdp;
    } else if (grammar::iequals(transport, "tcp")) {
      protocol = Protocol::kTcp;
    } else {
      resolution.error = "transport " + grammar::lower(transport) + " not supported";
      return resolution;
    }
  }

  std::string_view target = uri.host;
  if (std::string_view maddr = uri.param("maddr"); !maddr.empty()) {
    target = maddr;
    if (target.size() > 2 && target.front() == '[' && target.back() == ']') {
      target = target.substr(1, target.size() - 2);
    }
  }

  const std::uint16_t port = uri.port != 0 ? uri.port : kDefaultSipPort;
  std::vector<ip::address> addresses;
  if (std::optional<ip::address> numeric = numeric_address(target)) {
    addresses.push_back(*numeric);
  } else {
    addresses = hosts.lookup(target);
  }
  if (addresses.empty()) {
    resolution.error = "cannot resolve " + std::string(target) + ": not an address and not in " +
                       hosts.path().string();
    return resolution;
  }
  resolution.destinations.reserve(addresses.size());
  for (const ip::address& address : addresses) {
    resolution.destinations.push_back(Destination{protocol, address, port, std::nullopt});
  }
  return resolution;
}

}  // namespace herald::sip::transport
