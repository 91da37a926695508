#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

// The watcher information document (RFC 3858, application/watcherinfo+xml) that the
// presence.winfo package (RFC 3857) sends a presentity about its watchers. Pure.
namespace herald::services::presence {

inline constexpr std::string_view kWatcherinfoType = "application/watcherinfo+xml";
inline constexpr std::string_view kWatcherinfoNamespace = "urn:ietf:params:xml:ns:watcherinfo";

struct WatcherEntry {
  std::string id;            // unique per subscription (RFC 3858 §5.4 watcher id)
  std::string uri;           // the watcher's AOR
  std::string display_name;  // may be empty
  std::string status;        // "pending", "active", "waiting", "terminated"
  std::string event;         // "subscribe", "approved", "deactivated", "probation", "rejected",
                             // "timeout", "giveup", "noresource"
  std::int64_t duration_subscribed = -1;  // seconds; < 0: attribute omitted
};

// A full-state document (state="full") for one watcher list: resource and package as in
// <watcher-list resource=… package=…>. Deterministic and well-formed (attributes and text
// escaped).
std::string compose_watcherinfo(std::uint32_t version, std::string_view resource, std::string_view package,
                                const std::vector<WatcherEntry>& watchers);

}  // namespace herald::services::presence
