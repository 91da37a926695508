#include "app/presence_command.h"

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "app/config.h"
#include "app/user_command.h"
#include "sip/msg/uri.h"
#include "store/store.h"

namespace herald::app {
namespace {

struct PresenceOptions {
  std::string config_file;
  std::string data_dir;
  std::vector<std::string> words;  // the subcommand and its arguments
};

// Exit codes, as `herald user` has them: 0 done, 1 the store refused (no such rule, I/O),
// 2 bad input.
constexpr int kFailed = 1;
constexpr int kBadInput = 2;

constexpr const char* kHelp = R"(Subcommands:
  allow PRESENTITY WATCHER         WATCHER sees PRESENTITY's presence in full.
  block PRESENTITY WATCHER         WATCHER's subscriptions to PRESENTITY are terminated
                                   (Subscription-State: terminated;reason=rejected).
  polite-block PRESENTITY WATCHER  WATCHER sees PRESENTITY as always offline (closed),
                                   and cannot tell that from a real absence.
  confirm PRESENTITY WATCHER       WATCHER's subscriptions to PRESENTITY stay pending
                                   until a rule allows them.
  remove PRESENTITY WATCHER        Removes the rule of PRESENTITY for WATCHER.
  list [PRESENTITY]                Prints the rules (of PRESENTITY only, if given), one per
                                   line: PRESENTITY WATCHER ACTION, ordered.

A rule replaces any earlier one for the same PRESENTITY and WATCHER.
PRESENTITY is a user address: alice@example.com or sip:alice@example.com.
WATCHER is a user address, or a domain (example.com) meaning every watcher of that domain.
A running server applies changes within about a second.
Exit status: 0 done, 1 the store refused (e.g. there is no such rule to remove), 2 bad input.)";

void say(const std::string& line) { std::fprintf(stderr, "herald: %s\n", line.c_str()); }

// The presentity as normalize_aor() gives it; empty, said on stderr, if the text is no user
// address.
std::string checked_presentity(std::string_view text) {
  std::string domain;
  std::string aor = normalize_aor(text, domain);
  if (aor.empty()) say("'" + std::string(text) + "' is not a user address like alice@example.com");
  return aor;
}

// A watcher: a user address, as normalize_aor() gives it, or a bare domain ("Example.COM" →
// "example.com", the host of a SIP URI written without "sip:", user, port or parameters),
// standing for every watcher of that domain. Empty, said on stderr, if the text is neither.
std::string checked_watcher(std::string_view text) {
  std::string domain;
  if (std::string aor = normalize_aor(text, domain); !aor.empty()) return aor;
  bool has_scheme = text.rfind("sip:", 0) == 0 || text.rfind("sips:", 0) == 0;
  std::string uri = "sip:" + std::string(text);
  auto parsed = sip::parse_uri(uri);
  if (!has_scheme && parsed.ok() && !parsed->has_user && parsed->port == 0 &&
      parsed->params.empty() && parsed->headers.empty() && !parsed->host.empty()) {
    return sip::address_of_record(*parsed).substr(std::string_view("sip:").size());
  }
  say("'" + std::string(text) +
      "' is neither a user address like alice@example.com nor a domain like example.com");
  return {};
}

// Opens the store of the configuration; the exit code when that fails.
int with_store(const PresenceOptions& o, std::unique_ptr<store::Store>& s) {
  auto config = command_config(o.config_file, o.data_dir);
  if (!config) return kBadInput;
  s = open_command_store(*config);
  return s ? 0 : kFailed;
}

int set_or_remove(const PresenceOptions& o) {
  const std::string& command = o.words[0];
  if (o.words.size() != 3) {
    say("presence " + command + " takes PRESENTITY and WATCHER (see herald presence --help)");
    return kBadInput;
  }
  std::string presentity = checked_presentity(o.words[1]);
  if (presentity.empty()) return kBadInput;
  std::string watcher = checked_watcher(o.words[2]);
  if (watcher.empty()) return kBadInput;
  std::unique_ptr<store::Store> s;
  if (int failed = with_store(o, s); failed != 0) return failed;
  if (command == "remove") {
    if (store::Status status = s->remove_presence_rule(presentity, watcher); !status.ok()) {
      say(status.message());
      return kFailed;
    }
    std::printf("removed %s %s\n", presentity.c_str(), watcher.c_str());
    return 0;
  }
  if (store::Status status = s->set_presence_rule({presentity, watcher, command}); !status.ok()) {
    say(status.message());
    return kFailed;
  }
  std::printf("set %s %s %s\n", presentity.c_str(), watcher.c_str(), command.c_str());
  return 0;
}

int list(const PresenceOptions& o) {
  if (o.words.size() > 2) {
    say("presence list takes at most a PRESENTITY (see herald presence --help)");
    return kBadInput;
  }
  std::string presentity;
  if (o.words.size() == 2) {
    presentity = checked_presentity(o.words[1]);
    if (presentity.empty()) return kBadInput;
  }
  std::unique_ptr<store::Store> s;
  if (int failed = with_store(o, s); failed != 0) return failed;
  auto rules = s->load_presence_rules();
  if (!rules.ok()) {
    say(rules.status().message());
    return kFailed;
  }
  for (const store::PresenceRule& r : rules.value()) {
    if (presentity.empty() || r.presentity == presentity) {
      std::printf("%s %s %s\n", r.presentity.c_str(), r.watcher.c_str(), r.action.c_str());
    }
  }
  return 0;
}

int run(const PresenceOptions& o) {
  if (o.words.empty()) {
    say("presence needs a subcommand: allow, block, polite-block, confirm, remove or list "
        "(see herald presence --help)");
    return kBadInput;
  }
  const std::string& command = o.words[0];
  if (store::is_presence_action(command) || command == "remove") return set_or_remove(o);
  if (command == "list") return list(o);
  say("unknown presence subcommand '" + command +
      "' (known: allow, block, polite-block, confirm, remove, list)");
  return kBadInput;
}

}  // namespace

std::shared_ptr<int> add_presence_commands(CLI::App& app) {
  auto options = std::make_shared<PresenceOptions>();
  auto exit_code = std::make_shared<int>(-1);
  CLI::App* presence = app.add_subcommand(
      "presence", "Manage who may see whose presence (works while the server runs)");
  presence
      ->add_option("SUBCOMMAND", options->words,
                   "allow|block|polite-block|confirm|remove PRESENTITY WATCHER, "
                   "or list [PRESENTITY]")
      ->type_name("ARGS");
  presence->add_option("-c,--config", options->config_file, "TOML configuration file of the server")
      ->check(CLI::ExistingFile);
  presence->add_option("--data-dir", options->data_dir, "Data directory (overrides the config)");
  presence->footer(kHelp);
  presence->final_callback([options, exit_code] { *exit_code = run(*options); });
  return exit_code;
}

}  // namespace herald::app
