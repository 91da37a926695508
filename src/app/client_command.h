#pragma once

#include <CLI/CLI.hpp>
#include <memory>

namespace herald::app {

// Adds the client commands to the command line: `herald register`, `listen`, `publish`,
// `watch` and `send`, each a user agent of the client library (src/client) talking to one
// server. Returns where the exit code of the command that ran is left after parsing (-1
// when none of them ran). Exit codes: 0 done, 1 refused, 2 bad usage, 3 unreachable,
// 4 authentication failed, 5 no such user.
std::shared_ptr<int> add_client_commands(CLI::App& app);

}  // namespace herald::app
