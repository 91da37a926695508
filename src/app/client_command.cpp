#include "app/client_command.h"

#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "app/user_command.h"
#include "client/messaging.h"
#include "client/presence_view.h"
#include "client/publication.h"
#include "client/registration.h"
#include "client/subscription.h"
#include "client/user_agent.h"
#include "sip/msg/uri.h"
#include "sip/transport/resolver.h"

namespace herald::app {
namespace {

// Exit codes of the client commands (README, --help).
constexpr int kDone = 0;
constexpr int kRefused = 1;
constexpr int kUsage = 2;
constexpr int kUnreachable = 3;
constexpr int kAuthFailed = 4;
constexpr int kNoSuchUser = 5;
constexpr int kInterrupted = 130;

constexpr const char* kExitCodes =
    "Exit status: 0 done (also after Ctrl-C, once the clean-up is done), 1 refused by the\n"
    "server (the status is on stderr), 2 bad usage, 3 server unreachable, 4 authentication\n"
    "failed, 5 no such user.\n"
    "Environment: HERALD_SERVER, HERALD_USER and HERALD_PASSWORD stand for --server, --user\n"
    "and the password.";

struct ClientOptions {
  std::string server = "127.0.0.1:5060";
  std::string user;
  std::string password_file;
  std::string transport = "udp";
  double timeout = 10;
  std::uint32_t expires = 3600;
  bool json = false;
  // publish
  std::string status;
  std::string note;
  std::vector<std::string> activities;
  std::string contact;
  bool once = false;
  // watch, send
  std::vector<std::string> targets;
  std::string to;
  std::string text;
  std::string content_type = "text/plain;charset=UTF-8";
};

void say(const std::string& line) { std::fprintf(stderr, "herald: %s\n", line.c_str()); }

// One line on standard output, flushed at once (the reader may be a pipe).
void print(const std::string& line) {
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

std::string now_text() { return client::utc_text(std::time(nullptr)); }

// The user address `text` names: as given when it has a domain, else at `domain`.
std::string address_of(std::string_view text, std::string_view domain) {
  std::string given(text);
  std::string_view bare = text.starts_with("sip:") ? text.substr(4) : text;
  if (bare.find('@') == std::string_view::npos) given = std::string(bare) + "@" + std::string(domain);
  std::string ignored;
  return normalize_aor(given, ignored);
}

// The part of a client command that every one of them has: options resolved, the UA, the
// event loop, signals, and the way to end with an exit code.
class Session {
 public:
  explicit Session(const ClientOptions& options) : options_(options) {}

  // Resolves the options and opens the UA; false (exit code set, said on stderr) on failure.
  bool open() {
    client::UserAgentConfig config;
    config.protocol = options_.transport == "tcp" ? sip::transport::Protocol::kTcp : sip::transport::Protocol::kUdp;
    const std::string server_uri_text = "sip:" + options_.server;
    auto server_uri = sip::parse_uri(server_uri_text);
    if (!server_uri.ok() || server_uri->has_user || !server_uri->params.empty() || !server_uri->headers.empty()) {
      say("--server '" + options_.server + "' is not HOST[:PORT]");
      code_ = kUsage;
      return false;
    }
    auto resolved = sip::transport::resolve(*server_uri, sip::transport::HostsFile::load(), config.protocol);
    if (!resolved.ok()) {
      say("cannot reach " + options_.server + ": " + resolved.error);
      code_ = kUnreachable;
      return false;
    }
    config.server_address = resolved.destinations.front().address;
    config.server_port = resolved.destinations.front().port;
    const std::string domain = server_uri->ipv6 ? "[" + std::string(server_uri->host) + "]" : std::string(server_uri->host);
    aor_ = address_of(options_.user, domain);
    if (aor_.empty()) {
      say("--user '" + options_.user + "' is not a user name or address like alice@example.com");
      code_ = kUsage;
      return false;
    }
    auto aor_uri = sip::parse_uri(aor_);
    config.aor = aor_;
    config.username = sip::unescape(aor_uri->user);
    config.timeout = std::chrono::milliseconds(static_cast<std::int64_t>(options_.timeout * 1000));
    std::optional<std::string> password;
    if (!options_.password_file.empty()) {
      std::ifstream in(options_.password_file);
      std::string line;
      if (!in || !std::getline(in, line)) {
        say("cannot read a password from " + options_.password_file);
        code_ = kUsage;
        return false;
      }
      password = line;
    } else if (const char* env = std::getenv("HERALD_PASSWORD"); env != nullptr) {
      password = std::string(env);
    }
    const std::string prompt = "Password for " + aor_ + ": ";
    config.password = [password, prompt]() -> std::optional<std::string> {
      if (password) return password;
      if (isatty(STDIN_FILENO) == 0) return std::nullopt;
      return read_line_no_echo(prompt.c_str());
    };
    signals_.async_wait([this](const boost::system::error_code& ec, int) {
      if (ec) return;
      signals_.async_wait([this](const boost::system::error_code& ec2, int) {
        if (!ec2) end(kInterrupted);
      });
      if (cleanup_) {
        cleanup_();
      } else {
        end(kInterrupted);
      }
    });
    ua_ = std::make_unique<client::UserAgent>(io_, std::move(config));
    if (auto ec = ua_->start()) {
      say("cannot open a local SIP socket: " + ec.message());
      code_ = kRefused;
      return false;
    }
    return true;
  }

  client::UserAgent& ua() { return *ua_; }
  const std::string& aor() const { return aor_; }
  // A target of watch or send: at the domain of --user when it names none.
  std::string target(std::string_view text) const {
    const auto at = aor_.find('@');
    return address_of(text, std::string_view(aor_).substr(at + 1));
  }

  // From now on, the first SIGINT or SIGTERM runs `cleanup`, which ends the session with
  // end(); before any is set, or at a second signal, the session ends at once.
  void on_signal(std::function<void()> cleanup) { cleanup_ = std::move(cleanup); }

  // Says why `o` failed, for `subject`, and ends with the matching exit code.
  void fail(const client::Outcome& o, std::string_view subject) {
    say_failure(o, subject);
    end(code_of(o));
  }

  static int code_of(const client::Outcome& o) {
    if (o.kind != client::Outcome::Kind::kResponse) return kUnreachable;
    if (o.auth_failed) return kAuthFailed;
    if (o.status() == 404) return kNoSuchUser;
    return o.ok() ? kDone : kRefused;
  }

  void say_failure(const client::Outcome& o, std::string_view subject) const {
    const std::string where = ua_->server_text() + " over " + options_.transport;
    switch (o.kind) {
      case client::Outcome::Kind::kTimeout:
        say("no answer from " + where);
        return;
      case client::Outcome::Kind::kTransportError:
        say("cannot reach " + where + ": " + o.error);
        return;
      case client::Outcome::Kind::kResponse:
        break;
    }
    const std::string status = std::to_string(o.status()) + " " + std::string(o.response.reason_phrase());
    if (o.no_password) {
      say(status + ": the server asks for the password of " + aor_ +
          " (give --password-file, set HERALD_PASSWORD, or run on a terminal)");
    } else if (o.auth_failed) {
      say(status + ": the server refused the password of " + aor_);
    } else {
      say(std::string(subject) + ": " + status);
    }
  }

  void end(int code) {
    code_ = code;
    io_.stop();
  }

  int run() {
    io_.run();
    return code_;
  }
  // The exit code after open() failed.
  int run_failed() const { return code_; }

 private:
  const ClientOptions& options_;
  boost::asio::io_context io_;
  std::unique_ptr<client::UserAgent> ua_;
  boost::asio::signal_set signals_{io_, SIGINT, SIGTERM};
  std::function<void()> cleanup_;
  std::string aor_;
  int code_ = kDone;
};

std::string registered_line(const std::string& aor, const client::Registration& r) {
  return "registered " + aor + " at " + r.contact() + " (expires in " + std::to_string(r.granted()) + " s)";
}

// Registers, keeps the registration, and unregisters on Ctrl-C; `listening` prints what
// arrives meanwhile.
int run_register(const ClientOptions& o, bool listening) {
  Session s(o);
  if (!s.open()) return s.run_failed();
  std::unique_ptr<client::Inbox> inbox;
  if (listening) {
    inbox = std::make_unique<client::Inbox>(s.ua(), [&o](const client::IncomingMessage& m) {
      const std::string time = now_text();
      if (o.json) {
        print(client::format_message_json(time, m));
      } else {
        print(client::format_message_line(time, m));
      }
    });
  }
  client::Registration registration(s.ua(), o.expires);
  registration.set_on_lost([&](const client::Outcome& outcome) { s.fail(outcome, s.aor()); });
  registration.start([&](const client::Outcome& outcome) {
    if (!outcome.ok()) {
      s.fail(outcome, s.aor());
      return;
    }
    print(registered_line(s.aor(), registration));
    s.on_signal([&] {
      registration.stop([&](const client::Outcome& out) {
        if (!out.ok()) {
          s.fail(out, s.aor());
          return;
        }
        print("unregistered " + s.aor());
        s.end(kDone);
      });
    });
  });
  return s.run();
}

int run_publish(const ClientOptions& o) {
  Session s(o);
  if (!s.open()) return s.run_failed();
  client::Publication publication(s.ua(), "presence", o.expires);
  publication.set_on_lost([&](const client::Outcome& outcome) { s.fail(outcome, s.aor()); });
  const std::string body =
      client::publish_document(s.aor(), o.status, o.note, o.activities, o.contact, now_text());
  publication.publish("application/pidf+xml", body, [&](const client::Outcome& outcome) {
    if (!outcome.ok()) {
      s.fail(outcome, s.aor());
      return;
    }
    std::string line = "published " + o.status;
    if (!o.note.empty()) line += " \"" + o.note + "\"";
    print(line + " for " + s.aor() + " (expires in " + std::to_string(publication.granted()) + " s)");
    if (o.once) {
      s.end(kDone);
      return;
    }
    s.on_signal([&] {
      publication.remove([&](const client::Outcome& out) {
        if (!out.ok()) {
          s.fail(out, s.aor());
          return;
        }
        print("removed the publication of " + s.aor());
        s.end(kDone);
      });
    });
  });
  return s.run();
}

int run_watch(const ClientOptions& o) {
  Session s(o);
  if (!s.open()) return s.run_failed();
  struct Watched {
    std::string presentity;
    std::unique_ptr<client::Subscription> subscription;
    std::optional<client::PresenceSummary> last;
  };
  std::vector<Watched> watched;
  for (const std::string& t : o.targets) {
    std::string presentity = s.target(t);
    if (presentity.empty()) {
      say("'" + t + "' is not a user name or address like alice@example.com");
      return kUsage;
    }
    watched.push_back({presentity, nullptr, std::nullopt});
  }
  int stopping = -1;  // subscriptions still ending after Ctrl-C or a failure; -1: running
  int final_code = kDone;
  auto stop_all = [&](int code) {
    if (stopping >= 0) return;
    final_code = code;
    stopping = static_cast<int>(watched.size());
    for (Watched& w : watched) {
      w.subscription->stop([&] {
        if (--stopping == 0) s.end(final_code);
      });
    }
  };
  auto all_ended = [&] {
    return std::all_of(watched.begin(), watched.end(), [](const Watched& w) { return w.subscription->ended(); });
  };
  for (Watched& w : watched) {
    w.subscription = std::make_unique<client::Subscription>(
        s.ua(), w.presentity, "presence",
        std::vector<std::string>{"application/pidf+xml", "application/cpim-pidf+xml"}, o.expires);
    w.subscription->set_on_notify([&](const client::Notification& n) {
      if (stopping >= 0) return;  // the final NOTIFYs of our own un-SUBSCRIBEs
      client::PresenceSummary summary = client::summarize(n, w.presentity);
      if (w.last != summary) {
        const std::string time = now_text();
        print(o.json ? client::format_json(time, w.presentity, summary)
                     : client::format_line(time, w.presentity, summary));
        w.last = std::move(summary);
      }
      if (all_ended()) stop_all(kDone);  // nothing left to watch
    });
    w.subscription->set_on_lost([&](const client::Outcome& outcome) {
      s.say_failure(outcome, w.presentity);
      stop_all(Session::code_of(outcome));
    });
  }
  std::size_t answered = 0;
  for (Watched& w : watched) {
    w.subscription->start([&](const client::Outcome& outcome) {
      // Ctrl-C before every SUBSCRIBE was answered ends at once (130), as the other commands
      // do before their first answer; after that it un-SUBSCRIBEs.
      if (++answered == watched.size()) s.on_signal([&] { stop_all(kDone); });
      if (outcome.ok() || stopping >= 0) return;
      s.say_failure(outcome, w.presentity);
      stop_all(Session::code_of(outcome));
    });
  }
  return s.run();
}

int run_send(const ClientOptions& o) {
  Session s(o);
  if (!s.open()) return s.run_failed();
  const std::string to = s.target(o.to);
  if (to.empty()) {
    say("'" + o.to + "' is not a user name or address like alice@example.com");
    return kUsage;
  }
  std::string text = o.text;
  if (text == "-") text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  client::send_message(s.ua(), to, o.content_type, text, [&](const client::Outcome& outcome) {
    if (!outcome.ok()) {
      s.fail(outcome, to);
      return;
    }
    const std::string status = std::to_string(outcome.status()) + " " + std::string(outcome.response.reason_phrase());
    print(outcome.status() == 202 ? "stored for later delivery (" + status + ")" : "delivered (" + status + ")");
    s.end(kDone);
  });
  return s.run();
}

void add_common_options(CLI::App& cmd, ClientOptions& o, bool expires) {
  cmd.add_option("--server", o.server, "The server, HOST[:PORT] (default 127.0.0.1:5060)")->envname("HERALD_SERVER");
  cmd.add_option("-u,--user", o.user, "Who you are: NAME (at the server's domain) or NAME@DOMAIN")
      ->envname("HERALD_USER")
      ->required();
  cmd.add_option("--password-file", o.password_file,
                 "Read the password from the first line of this file (else HERALD_PASSWORD, else a prompt on a "
                 "terminal when the server asks)");
  cmd.add_option("--transport", o.transport, "udp or tcp (default udp)")->check(CLI::IsMember({"udp", "tcp"}));
  cmd.add_option("--timeout", o.timeout, "Seconds to wait for an answer before giving up (default 10)")
      ->check(CLI::Range(0.1, 3600.0));
  if (expires) {
    cmd.add_option("--expires", o.expires, "Seconds asked for before a refresh is due (default 3600)")
        ->check(CLI::Range(1U, 2147483647U));
  }
  cmd.footer(kExitCodes);
}

}  // namespace

std::shared_ptr<int> add_client_commands(CLI::App& app) {
  auto exit_code = std::make_shared<int>(-1);
  auto options = std::make_shared<ClientOptions>();

  CLI::App* reg = app.add_subcommand("register", "Register with the server until Ctrl-C, then unregister");
  add_common_options(*reg, *options, true);
  reg->final_callback([options, exit_code] { *exit_code = run_register(*options, false); });

  CLI::App* listen = app.add_subcommand(
      "listen", "Register and print the messages that arrive (each answered 200) until Ctrl-C, then unregister");
  add_common_options(*listen, *options, true);
  listen->add_flag("--json", options->json, "One JSON object per message: time, from, to, content_type, text, date");
  listen->final_callback([options, exit_code] { *exit_code = run_register(*options, true); });

  CLI::App* publish = app.add_subcommand(
      "publish", "Publish your presence (PIDF) and keep it refreshed until Ctrl-C, then remove it");
  add_common_options(*publish, *options, true);
  publish->add_option("--status", options->status, "open or closed")
      ->required()
      ->check(CLI::IsMember({"open", "closed"}));
  publish->add_option("--note", options->note, "A note for your watchers (\"In a meeting\")");
  std::vector<std::string> activities(client::rpid_activities().begin(), client::rpid_activities().end());
  publish->add_option("--activity", options->activities, "An RPID activity (RFC 4480), repeatable: away, busy, ...")
      ->check(CLI::IsMember(activities));
  publish->add_option("--contact", options->contact, "A URI to reach you at, shown to watchers");
  publish->add_flag("--once", options->once, "Publish and exit; the publication stays until it expires");
  publish->final_callback([options, exit_code] { *exit_code = run_publish(*options); });

  CLI::App* watch = app.add_subcommand(
      "watch", "Subscribe to the presence of USER... and print each change until Ctrl-C, then unsubscribe");
  add_common_options(*watch, *options, true);
  watch->add_option("users", options->targets, "Whom to watch: NAME (at your domain) or NAME@DOMAIN")->required();
  watch->add_flag("--json", options->json,
                  "One JSON object per change: time, presentity, state, basic, note, activities, contacts, reason");
  watch->final_callback([options, exit_code] { *exit_code = run_watch(*options); });

  CLI::App* send = app.add_subcommand("send", "Send USER an instant message and report the server's answer");
  add_common_options(*send, *options, false);
  send->add_option("user", options->to, "To whom: NAME (at your domain) or NAME@DOMAIN")->required();
  send->add_option("text", options->text, "The message; - reads it from standard input")->required();
  send->add_option("--content-type", options->content_type, "Its type (default text/plain;charset=UTF-8)");
  send->final_callback([options, exit_code] { *exit_code = run_send(*options); });

  return exit_code;
}

}  // namespace herald::app
