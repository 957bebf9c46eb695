// `storegate verifier USER`: reads a password from standard input and prints the users-file
// line for it, with a SCRAM-SHA-256 verifier as PostgreSQL stores one, so that no plain
// password needs to be kept in auth.users_file.
#pragma once

#include <CLI/CLI.hpp>

namespace storegate::proxy {

void add_verifier_command(CLI::App& app, int& exit_code);

}  // namespace storegate::proxy
