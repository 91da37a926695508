#pragma once

#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "services/registrar/location_service.h"
#include "sip/msg/message.h"
#include "sip/transport/transport_user.h"

namespace herald::services::registrar {

struct RegistrarConfig {
  std::uint32_t default_expires = 3600;  // when neither the Contact nor the request says
  std::uint32_t min_expires = 60;        // below: 423 Interval Too Brief with Min-Expires
  std::uint32_t max_expires = 86400;     // above: the 200 clamps to it
  int unknown_user_status = 404;         // 404 or 403 for an AOR with no account
  std::vector<std::string> domains;      // served domains (lower case)
};

// RFC 3261 §10.3 (with RFC 3327 Path): processes one REGISTER and returns the response to
// send. The caller has already authenticated the request when authentication is on, and
// passes the identity it proved (the AOR of the credentials); without authentication it
// passes nullopt.
//
// Threading: one instance per shard, on its thread.
class Registrar {
 public:
  using UserExists = std::function<bool(std::string_view aor)>;

  Registrar(RegistrarConfig config, LocationService& location, UserExists user_exists);

  sip::Message handle(const sip::Message& request, const sip::transport::Source& source,
                      const std::optional<std::string>& identity);

  bool serves_domain(std::string_view host) const;
  const RegistrarConfig& config() const { return config_; }

 private:
  sip::Message reply(const sip::Message& request, int code, std::string_view reason);
  sip::Message out_of_order(const sip::Message& request);
  sip::Message bindings_reply(const sip::Message& request, const std::string& aor, bool with_path);

  RegistrarConfig config_;
  LocationService& location_;
  UserExists user_exists_;
  std::mt19937_64 random_;
};

// "Sat, 13 Nov 2010 23:29:00 GMT" for a unix time (RFC 3261 §20.17).
std::string rfc1123_date(std::int64_t unix_seconds);

}  // namespace herald::services::registrar
