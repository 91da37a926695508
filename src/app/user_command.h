#pragma once

#include <CLI/CLI.hpp>
#include <memory>

namespace herald::app {

// Adds `herald user add|passwd|del|list` to the command line. They work on the data
// directory of the server's configuration (or --data-dir), also while the server runs:
// SQLite's WAL and busy timeout let both write. Returns where the exit code of the
// command that ran is left after parsing (-1 when none of them ran).
std::shared_ptr<int> add_user_commands(CLI::App& app);

}  // namespace herald::app
