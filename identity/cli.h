// `storegate identity ...` commands: customer identity resolution for DBAs.
#pragma once

#include <CLI/CLI.hpp>

namespace storegate::identity {

void add_commands(CLI::App& app, int& exit_code);

}  // namespace storegate::identity
