#include "services/presence/authorization.h"

#include <algorithm>
#include <set>

#include "sip/msg/grammar.h"
#include "sip/msg/uri.h"

namespace herald::services::presence {
namespace {

using RuleMap = std::unordered_map<std::string, std::unordered_map<std::string, Action>>;

using sip::grammar::lower;

// The domain of an AOR: the part after '@' ("sip:example.com" has no user: all after the
// scheme), lower case.
std::string domain_of(std::string_view aor) {
  const auto at = aor.rfind('@');
  if (at != std::string_view::npos) return lower(aor.substr(at + 1));
  const auto colon = aor.find(':');
  return lower(colon == std::string_view::npos ? aor : aor.substr(colon + 1));
}

// An AOR as the services write it (sip::address_of_record: "sip:", user unescaped, host
// lower case), so that a rule written "sip:Bob@Example.COM" or "bob@example.com" by hand
// still matches; text that is no SIP URI is kept as written.
std::string normalize_aor(std::string_view text) {
  std::string uri(text);
  if (!text.starts_with("sip:") && !text.starts_with("sips:")) uri = "sip:" + uri;
  const auto parsed = sip::parse_uri(uri);
  if (!parsed.ok()) return std::string(text);
  std::string aor = sip::address_of_record(parsed.value());
  return aor.empty() ? std::string(text) : aor;
}

// A watcher key: an AOR (it names a user: has '@') normalized, or a domain in lower case.
std::string watcher_key(std::string_view watcher) {
  return watcher.find('@') != std::string_view::npos ? normalize_aor(watcher) : lower(watcher);
}

RuleMap build(const std::vector<store::PresenceRule>& rules) {
  RuleMap map;
  for (const store::PresenceRule& rule : rules) {
    const auto action = parse_action(rule.action);
    if (!action || rule.presentity.empty() || rule.watcher.empty()) continue;
    map[normalize_aor(rule.presentity)][watcher_key(rule.watcher)] = *action;
  }
  return map;
}

}  // namespace

std::string_view to_string(Action action) {
  switch (action) {
    case Action::kAllow:
      return "allow";
    case Action::kBlock:
      return "block";
    case Action::kPoliteBlock:
      return "polite-block";
    case Action::kConfirm:
      return "confirm";
  }
  return "allow";
}

std::optional<Action> parse_action(std::string_view text) {
  const std::string action = lower(text);
  if (action == "allow") return Action::kAllow;
  if (action == "block") return Action::kBlock;
  if (action == "polite-block") return Action::kPoliteBlock;
  if (action == "confirm") return Action::kConfirm;
  return std::nullopt;
}

Authorization::Authorization(AuthorizationPolicy policy) : policy_(policy) {}

void Authorization::set_rules(const std::vector<store::PresenceRule>& rules) { rules_ = build(rules); }

Action Authorization::decide(std::string_view presentity, std::string_view watcher) const {
  if (presentity == watcher) return Action::kAllow;
  const std::string watcher_domain = domain_of(watcher);
  if (const auto own = rules_.find(std::string(presentity)); own != rules_.end()) {
    if (const auto rule = own->second.find(std::string(watcher)); rule != own->second.end()) return rule->second;
    if (const auto rule = own->second.find(watcher_domain); rule != own->second.end()) return rule->second;
  }
  return watcher_domain == domain_of(presentity) ? policy_.same_domain : policy_.other_domains;
}

std::vector<std::string> Authorization::changed_presentities(const std::vector<store::PresenceRule>& rules) const {
  const RuleMap next = build(rules);
  std::set<std::string> changed;
  for (const auto& [presentity, watchers] : rules_) {
    const auto other = next.find(presentity);
    if (other == next.end() || other->second != watchers) changed.insert(presentity);
  }
  for (const auto& [presentity, watchers] : next) {
    if (!rules_.contains(presentity)) changed.insert(presentity);
  }
  return {changed.begin(), changed.end()};
}

}  // namespace herald::services::presence
