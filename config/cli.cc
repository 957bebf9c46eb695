#include "config/cli.h"

namespace storegate::config {

void add_commands(CLI::App& app, int& exit_code) {}

}  // namespace storegate::config
