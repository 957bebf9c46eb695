#include "identity/cli.h"

namespace storegate::identity {

void add_commands(CLI::App& app, int& exit_code) {}

}  // namespace storegate::identity
