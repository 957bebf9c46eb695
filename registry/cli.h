// `storegate registry ...` commands (init, and later ones): control-plane tooling over libpq.
#pragma once

#include <CLI/CLI.hpp>

namespace storegate::registry {

void add_commands(CLI::App& app, int& exit_code);

}  // namespace storegate::registry
