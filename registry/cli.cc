#include "registry/cli.h"

namespace storegate::registry {

void add_commands(CLI::App& app, int& exit_code) {}

}  // namespace storegate::registry
