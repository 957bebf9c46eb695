// Runs a storegate subcommand through the same CLI wiring main() uses: a top-level --config
// option, then the component's add_commands. Returns the exit code the command set.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace storegate::test_support {

using AddCommands = void (*)(CLI::App&, int&);

inline int run_command(AddCommands add_commands, const std::vector<std::string>& args) {
    CLI::App app;
    std::string config_path;
    app.add_option("--config,-c", config_path);
    int exit_code = -1;
    add_commands(app, exit_code);
    std::vector<const char*> argv = {"storegate"};
    for (const auto& a : args) {
        argv.push_back(a.c_str());
    }
    app.parse(static_cast<int>(argv.size()), argv.data());
    return exit_code;
}

}  // namespace storegate::test_support
