#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "store/store.h"

// Presence authorization (RFC 5025 §3.2.1 sub-handling): what a presentity lets a watcher
// see. Rules name one watcher AOR or a whole watcher domain; a configurable policy covers
// watchers no rule names.
namespace herald::services::presence {

enum class Action : std::uint8_t {
  kAllow,        // active, full presence
  kBlock,        // terminated, reason=rejected
  kPoliteBlock,  // active, but an unchanging "closed" document
  kConfirm,      // pending until the presentity decides
};

std::string_view to_string(Action action);  // "allow", "block", "polite-block", "confirm"
std::optional<Action> parse_action(std::string_view text);

struct AuthorizationPolicy {
  Action same_domain = Action::kAllow;     // watcher in the presentity's domain
  Action other_domains = Action::kConfirm;  // anyone else
};

// The decision table. Pure: no I/O; one per shard.
class Authorization {
 public:
  explicit Authorization(AuthorizationPolicy policy = {});
  // Replaces every rule (rules with an unknown action are ignored).
  void set_rules(const std::vector<store::PresenceRule>& rules);
  // In order: a presentity always sees itself (allow); the rule for the watcher's AOR; the
  // rule for the watcher's domain; the policy by domain (compared case-insensitively).
  // `presentity` and `watcher` are AORs ("sip:user@host").
  Action decide(std::string_view presentity, std::string_view watcher) const;
  // The presentities whose rules differ between the current rules and `rules`.
  std::vector<std::string> changed_presentities(const std::vector<store::PresenceRule>& rules) const;

 private:
  AuthorizationPolicy policy_;
  // presentity → (watcher AOR or domain → action)
  std::unordered_map<std::string, std::unordered_map<std::string, Action>> rules_;
};

}  // namespace herald::services::presence
