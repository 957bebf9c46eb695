// `storegate check-config --config FILE`: validates and reports every error at once.
#pragma once

#include <CLI/CLI.hpp>

namespace storegate::config {

void add_commands(CLI::App& app, int& exit_code);

}  // namespace storegate::config
