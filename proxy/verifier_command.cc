#include "proxy/verifier_command.h"

#include <openssl/rand.h>

#include <iostream>
#include <memory>
#include <string>

#include "protocol/scram.h"

namespace storegate::proxy {

namespace {

// PostgreSQL's defaults for a new SCRAM verifier (scram_iterations, a 16-byte salt).
constexpr int kIterations = 4096;
constexpr int kSaltBytes = 16;

int print_verifier(const std::string& user) {
    if (user.empty() || user.find('"') != std::string::npos) {
        std::cerr << "storegate verifier: the user name must be non-empty and have no '\"'\n";
        return 2;
    }
    std::string password;
    if (!std::getline(std::cin, password) || password.empty()) {
        std::cerr << "storegate verifier: give the password on standard input\n";
        return 2;
    }
    if (!password.empty() && password.back() == '\r') {
        password.pop_back();
    }
    std::string salt(kSaltBytes, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(salt.data()), kSaltBytes) != 1) {
        std::cerr << "storegate verifier: no random salt from OpenSSL\n";
        return 1;
    }
    auto verifier = protocol::scram::make_verifier(password, salt, kIterations);
    std::cout << '"' << user << "\" \"" << protocol::scram::format_verifier(verifier) << "\"\n";
    return 0;
}

}  // namespace

void add_verifier_command(CLI::App& app, int& exit_code) {
    auto* command =
        app.add_subcommand("verifier",
                           "print a users-file line with a SCRAM-SHA-256 verifier for USER; the "
                           "password is read from standard input");
    auto user = std::make_shared<std::string>();
    command->add_option("user", *user, "client user name")->required();
    command->callback([&exit_code, user] { exit_code = print_verifier(*user); });
}

}  // namespace storegate::proxy
