#include "registry/cli.h"

#include <iostream>

#include "registry/pg_registry.h"
#include "registry/rls_policy.h"
#include "registry/secrets.h"

namespace storegate::registry {

namespace {

// `registry init`: creates or upgrades the schema; returns the process exit code.
int init(const std::string& dsn_ref) {
    // The DSN may be given as env:NAME or file:PATH to keep its password off the command line.
    SecretResult dsn = resolve_secret(dsn_ref, true);
    if (!dsn.value) {
        std::cerr << "storegate registry init: " << dsn.error << "\n";
        return 1;
    }
    MigrateResult result = migrate(*dsn.value);
    if (!result.ok) {
        std::cerr << "storegate registry init: " << result.error << "\n";
        return 1;
    }
    std::cout << "registry schema at version " << result.version << ": " << redact_dsn(*dsn.value)
              << "\n";
    return 0;
}

}  // namespace

void add_commands(CLI::App& app, int& exit_code) {
    auto* registry = app.add_subcommand("registry", "manage the PostgreSQL routing registry");
    registry->require_subcommand(1);
    auto* init_cmd = registry->add_subcommand(
        "init", "create or upgrade the registry schema (idempotent; safe to run concurrently)");
    auto dsn = std::make_shared<std::string>();
    init_cmd->add_option("--dsn", *dsn, "registry DSN (conninfo or URI), or env:NAME / file:PATH")
        ->required();
    init_cmd->callback([&exit_code, dsn] { exit_code = init(*dsn); });
    auto* rls_cmd = registry->add_subcommand(
        "rls", "print a row-level security policy isolating stores in a shared table");
    auto table = std::make_shared<std::string>();
    auto column = std::make_shared<std::string>("store_id");
    rls_cmd->add_option("--table", *table, "table to protect (schema.table or table)")->required();
    rls_cmd->add_option("--column", *column, "column holding the store id")->capture_default_str();
    rls_cmd->callback([&exit_code, table, column] {
        auto sql = rls_policy_sql(*table, *column);
        if (!sql) {
            std::cerr << "storegate registry rls: invalid --table or --column\n";
            exit_code = 1;
            return;
        }
        std::cout << *sql;
        exit_code = 0;
    });
}

}  // namespace storegate::registry
