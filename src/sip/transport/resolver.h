#pragma once

#include <boost/asio/ip/address.hpp>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "sip/msg/uri.h"
#include "sip/transport/transport_user.h"

// Locating SIP servers (RFC 3263 §4) without DNS: a URI's target is a numeric address or a name
// from a hosts file. No NAPTR or SRV lookups, no getaddrinfo, no sockets; apart from
// HostsFile::load() everything here is pure and never blocks.
namespace herald::sip::transport {

// The names of a hosts file (hosts(5)): "address name [aliases…]" per line, '#' to the end of a
// line is a comment, fields are separated by spaces or tabs. Names compare case-insensitively; a
// name on several lines has all their addresses in file order (IPv4 and IPv6 alike, duplicates
// dropped). Lines whose first field is not an address, or that name nothing, are ignored.
//
// Immutable once built: const calls are safe from any thread, so shards may share one table.
class HostsFile {
 public:
  static constexpr std::string_view kDefaultPath = "/etc/hosts";

  HostsFile() = default;

  // `path` is only what error messages call this table; nothing is read from it.
  static HostsFile parse(std::string_view text, std::filesystem::path path = kDefaultPath);

  // Reads and parses `path`. A missing or unreadable file gives an empty table (then only
  // numeric hosts resolve). Blocks on the file system: call at start-up, not per request.
  static HostsFile load(const std::filesystem::path& path = kDefaultPath);

  // The addresses listed for `name` (case-insensitive; one trailing '.' of an absolute name is
  // ignored), in file order; empty when the name is not listed.
  std::vector<boost::asio::ip::address> lookup(std::string_view name) const;

  const std::filesystem::path& path() const { return path_; }
  bool empty() const { return names_.empty(); }

 private:
  std::filesystem::path path_{kDefaultPath};
  // Lower-cased name → its addresses in file order.
  std::unordered_map<std::string, std::vector<boost::asio::ip::address>> names_;
};

// Where a request for a URI may be sent, in the order to try them, or why it cannot be sent.
struct Resolution {
  std::vector<Destination> destinations;  // none of them has a connection set
  std::string error;  // a reason phrase (e.g. for a 503 or 416) when destinations is empty

  bool ok() const { return !destinations.empty(); }
};

// RFC 3263 §4 for a sip: URI (a sips: URI or any other scheme gives an error).
// - Target: the maddr parameter if present (brackets around an IPv6 address allowed), else the
//   host.
// - Transport (§4.1): the transport parameter, case-insensitive: "udp" or "tcp"; any other value
//   ("tls", "sctp", "ws" …) gives "transport <name> not supported". Without the parameter,
//   `preferred` if set (e.g. TCP for a message too large for UDP, RFC 3261 §18.1.1), else UDP.
//   A sips: URI gives "sips needs TLS, which this server does not offer".
// - Port (§4.2): the URI's port, else 5060.
// - Addresses: a numeric target is that address; a name gives every address `hosts` lists for it
//   (file order). An unknown name gives "cannot resolve <target>: not an address and not in
//   <hosts.path()>".
Resolution resolve(const Uri& uri, const HostsFile& hosts,
                   std::optional<Protocol> preferred = std::nullopt);

}  // namespace herald::sip::transport
