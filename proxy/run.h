// Runs the proxy with the configuration at `config_path` until SIGTERM/SIGINT; returns the
// process exit code.
#pragma once

#include <string>

namespace storegate::proxy {

int run(const std::string& config_path);

}  // namespace storegate::proxy
