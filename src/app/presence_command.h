#pragma once

#include <CLI/CLI.hpp>
#include <memory>

namespace herald::app {

// Adds `herald presence allow|block|polite-block|confirm|remove|list` to the command line:
// the presence authorization rules (store::PresenceRule) of the data directory of the
// server's configuration (or --data-dir), also while the server runs, which notices a change
// by polling the rules' generation. Returns where the exit code of the command is left after
// parsing (-1 when it did not run).
std::shared_ptr<int> add_presence_commands(CLI::App& app);

}  // namespace herald::app
