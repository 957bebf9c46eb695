// storegate: command-line entry. Each component registers its own subcommands; running the
// proxy is the default action.
#include <CLI/CLI.hpp>

#include <iostream>

#include "common/version.h"
#include "config/cli.h"
#include "identity/cli.h"
#include "proxy/run.h"
#include "proxy/store_commands.h"
#include "proxy/verifier_command.h"
#include "registry/cli.h"

int main(int argc, char** argv) {
    CLI::App app{"storegate: a PostgreSQL wire-protocol routing proxy for multi-store platforms"};
    app.set_version_flag("--version", std::string("storegate ") + storegate::kVersion);
    std::string config_path;
    app.add_option("--config,-c", config_path, "configuration file (TOML)");
    int exit_code = 0;
    storegate::config::add_commands(app, exit_code);
    storegate::registry::add_commands(app, exit_code);
    storegate::identity::add_commands(app, exit_code);
    storegate::proxy::add_store_commands(app, exit_code);
    storegate::proxy::add_verifier_command(app, exit_code);
    CLI11_PARSE(app, argc, argv);
    if (!app.get_subcommands().empty()) {
        return exit_code;
    }
    if (config_path.empty()) {
        std::cerr << "storegate: --config FILE is required (see storegate --help)\n";
        return 2;
    }
    return storegate::proxy::run(config_path);
}
