#include "config/cli.h"

#include <iostream>

#include "config/config.h"

namespace storegate::config {

namespace {

// Prints the outcome of validating `path`; returns the process exit code.
int check_config(const std::string& path) {
    LoadResult result = load(path);
    if (!result.errors.empty()) {
        for (const ConfigError& error : result.errors) {
            std::cerr << error.to_string(path) << "\n";
        }
        return 1;
    }
    std::cout << "configuration OK: " << path << "\n";
    return 0;
}

}  // namespace

void add_commands(CLI::App& app, int& exit_code) {
    auto* check = app.add_subcommand("check-config", "validate a configuration file and exit");
    auto path = std::make_shared<std::string>();
    check->add_option("--config,-c", *path, "configuration file (TOML)");
    check->callback([&app, &exit_code, path] {
        std::string file = *path;
        // `storegate --config FILE check-config` names the file on the main command instead.
        const CLI::Option* main_config = app.get_option_no_throw("--config");
        if (file.empty() && main_config != nullptr && main_config->count() > 0) {
            file = main_config->as<std::string>();
        }
        if (file.empty()) {
            std::cerr << "storegate check-config: --config FILE is required\n";
            exit_code = 2;
            return;
        }
        exit_code = check_config(file);
    });
}

}  // namespace storegate::config
