#include "app/user_command.h"

#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include "app/config.h"
#include "sip/msg/uri.h"
#include "store/ha1.h"
#include "store/store.h"

namespace herald::app {
namespace {

struct UserOptions {
  std::string config_file;
  std::string data_dir;
  std::string aor;
  std::string password;
  bool password_given = false;
  std::string realm;
};

// Exit codes: 0 done, 1 the store refused (exists, not found, I/O), 2 bad input.
constexpr int kFailed = 1;
constexpr int kBadInput = 2;

std::optional<Config> config_of(const UserOptions& o) { return command_config(o.config_file, o.data_dir); }

std::unique_ptr<store::Store> open(const Config& c) { return open_command_store(c); }

// normalize_aor(), saying on stderr what is wrong when the text is no user address.
std::string checked_aor(std::string_view text, std::string& domain) {
  std::string aor = normalize_aor(text, domain);
  if (aor.empty()) {
    std::fprintf(stderr, "herald: '%.*s' is not a user address like alice@example.com\n", static_cast<int>(text.size()),
                 text.data());
  }
  return aor;
}

}  // namespace

std::string read_line_no_echo(const char* prompt) {
  // Echo goes off before the prompt shows, so nothing typed after it is echoed.
  termios old{};
  bool tty = tcgetattr(STDIN_FILENO, &old) == 0;
  if (tty) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::fprintf(stderr, "%s", prompt);
  std::string line;
  std::getline(std::cin, line);
  if (tty) {
    tcsetattr(STDIN_FILENO, TCSANOW, &old);
    std::fprintf(stderr, "\n");
  }
  return line;
}

namespace {

// The password from --password, else a prompt (twice) on a terminal, else one line of stdin.
std::optional<std::string> password_of(const UserOptions& o) {
  if (o.password_given) return o.password;
  if (isatty(STDIN_FILENO)) {
    std::string first = read_line_no_echo("Password: ");
    std::string second = read_line_no_echo("Again: ");
    if (first != second) {
      std::fprintf(stderr, "herald: the passwords differ\n");
      return std::nullopt;
    }
    return first;
  }
  std::string line;
  if (!std::getline(std::cin, line)) {
    std::fprintf(stderr, "herald: no password on standard input\n");
    return std::nullopt;
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

int add_or_passwd(const UserOptions& o, bool add) {
  std::string domain;
  std::string aor = checked_aor(o.aor, domain);
  if (aor.empty()) return kBadInput;
  auto config = config_of(o);
  if (!config) return kBadInput;
  if (std::find(config->domains.begin(), config->domains.end(), domain) == config->domains.end()) {
    std::fprintf(stderr, "herald: warning: %s is not among the served domains; set domains in the config\n",
                 domain.c_str());
  }
  auto password = password_of(o);
  if (!password) return kBadInput;
  if (password->empty()) {
    std::fprintf(stderr, "herald: the password is empty\n");
    return kBadInput;
  }
  auto s = open(*config);
  if (!s) return kFailed;
  std::string realm = o.realm.empty() ? domain : o.realm;
  auto user = store::make_user(aor, realm, *password);
  if (!user.ok()) {
    std::fprintf(stderr, "herald: %s\n", user.status().message().c_str());
    return kFailed;
  }
  store::Status status = add ? s->add_user(user.value()) : s->update_user(user.value());
  if (!status.ok()) {
    std::fprintf(stderr, "herald: %s: %s\n", aor.c_str(),
                 status.code() == store::StatusCode::kAlreadyExists ? "already exists"
                 : status.is_not_found()                            ? "no such user"
                                                                    : status.message().c_str());
    return kFailed;
  }
  std::printf("%s %s (realm %s)\n", add ? "added" : "password changed for", aor.c_str(), realm.c_str());
  return 0;
}

int del(const UserOptions& o) {
  std::string domain;
  std::string aor = checked_aor(o.aor, domain);
  if (aor.empty()) return kBadInput;
  auto config = config_of(o);
  if (!config) return kBadInput;
  auto s = open(*config);
  if (!s) return kFailed;
  store::Status status = s->remove_user(aor);
  if (!status.ok()) {
    std::fprintf(stderr, "herald: %s: %s\n", aor.c_str(), status.is_not_found() ? "no such user" : status.message().c_str());
    return kFailed;
  }
  if (auto removed = s->remove_bindings(aor); !removed.ok()) {
    std::fprintf(stderr, "herald: warning: bindings of %s: %s\n", aor.c_str(), removed.status().message().c_str());
  }
  std::printf("deleted %s\n", aor.c_str());
  return 0;
}

int list(const UserOptions& o) {
  auto config = config_of(o);
  if (!config) return kBadInput;
  auto s = open(*config);
  if (!s) return kFailed;
  auto users = s->list_users();
  if (!users.ok()) {
    std::fprintf(stderr, "herald: %s\n", users.status().message().c_str());
    return kFailed;
  }
  for (const store::User& u : users.value()) std::printf("%s\t%s\n", u.aor.c_str(), u.realm.c_str());
  return 0;
}

}  // namespace

std::string normalize_aor(std::string_view text, std::string& domain) {
  std::string uri(text);
  if (uri.rfind("sip:", 0) != 0 && uri.rfind("sips:", 0) != 0) uri = "sip:" + uri;
  auto parsed = sip::parse_uri(uri);
  if (!parsed.ok() || !parsed->has_user || parsed->has_password || !parsed->params.empty() ||
      !parsed->headers.empty() || parsed->port != 0) {
    return {};
  }
  std::string aor = sip::address_of_record(*parsed);
  domain = aor.substr(aor.find('@') + 1);
  return aor;
}

std::shared_ptr<int> add_user_commands(CLI::App& app) {
  auto options = std::make_shared<UserOptions>();
  auto exit_code = std::make_shared<int>(-1);
  CLI::App* user = app.add_subcommand("user", "Manage user accounts (works while the server runs)");
  user->require_subcommand(1);
  auto common = [options](CLI::App* cmd) {
    cmd->add_option("-c,--config", options->config_file, "TOML configuration file of the server")
        ->check(CLI::ExistingFile);
    cmd->add_option("--data-dir", options->data_dir, "Data directory (overrides the config)");
  };
  auto with_password = [options](CLI::App* cmd) {
    cmd->add_option("--password", options->password,
                    "The password (otherwise prompted for on a terminal, or read as one line of stdin)")
        ->each([options](const std::string&) { options->password_given = true; });
    cmd->add_option("--realm", options->realm, "Digest realm (default: the user's domain)");
  };

  CLI::App* add = user->add_subcommand("add", "Create a user: herald user add alice@example.com");
  add->add_option("user", options->aor, "Address of record, e.g. alice@example.com")->required();
  common(add);
  with_password(add);
  add->final_callback([options, exit_code] { *exit_code = add_or_passwd(*options, true); });

  CLI::App* passwd = user->add_subcommand("passwd", "Change a user's password");
  passwd->add_option("user", options->aor, "Address of record")->required();
  common(passwd);
  with_password(passwd);
  passwd->final_callback([options, exit_code] { *exit_code = add_or_passwd(*options, false); });

  CLI::App* remove = user->add_subcommand("del", "Delete a user and its registrations");
  remove->add_option("user", options->aor, "Address of record")->required();
  common(remove);
  remove->final_callback([options, exit_code] { *exit_code = del(*options); });

  CLI::App* ls = user->add_subcommand("list", "List users and their realms");
  common(ls);
  ls->final_callback([options, exit_code] { *exit_code = list(*options); });
  return exit_code;
}

std::optional<Config> command_config(const std::string& config_file, const std::string& data_dir) {
  Config c = default_config();
  if (!config_file.empty()) {
    std::string error;
    auto loaded = load_config(config_file, error);
    if (!loaded) {
      std::fprintf(stderr, "herald: %s\n", error.c_str());
      return std::nullopt;
    }
    c = *loaded;
  }
  if (!data_dir.empty()) c.data_dir = data_dir;
  return c;
}

std::unique_ptr<store::Store> open_command_store(const Config& c) {
  store::StoreConfig sc;
  sc.data_dir = c.data_dir;
  auto opened = store::open_store(sc);
  if (!opened.ok()) {
    std::fprintf(stderr, "herald: cannot open the store in %s: %s\n", c.data_dir.c_str(),
                 opened.status().message().c_str());
    return nullptr;
  }
  return std::move(opened).value();
}

}  // namespace herald::app
