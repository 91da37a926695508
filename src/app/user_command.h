#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "app/config.h"
#include "store/store.h"

namespace herald::app {

// Adds `herald user add|passwd|del|list` to the command line. They work on the data
// directory of the server's configuration (or --data-dir), also while the server runs:
// SQLite's WAL and busy timeout let both write. Returns where the exit code of the
// command that ran is left after parsing (-1 when none of them ran).
std::shared_ptr<int> add_user_commands(CLI::App& app);

// A user address as the commands take it, "alice@example.com" or "sip:alice@example.com", as
// the address of record that names the user: "sip:alice@example.com" (host lower-cased, user
// unescaped, sips: as sip:), with its domain ("example.com") left in `domain`. Empty when the
// text is no user address (no user part, a password, a port, parameters or headers).
std::string normalize_aor(std::string_view text, std::string& domain);

// Prints `prompt` on stderr and reads one line from standard input, without echo when it is
// a terminal.
std::string read_line_no_echo(const char* prompt);

// The configuration the administration commands work on: `config_file` (empty: the
// defaults) with `data_dir`, when given, in place of its data directory. nullopt after
// saying on stderr what is wrong with the file.
std::optional<Config> command_config(const std::string& config_file, const std::string& data_dir);
// The store of `config`; null after saying on stderr why it cannot be opened.
std::unique_ptr<store::Store> open_command_store(const Config& config);

}  // namespace herald::app
