#include "registry/secrets.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace storegate::registry {

namespace {

constexpr std::string_view kEnvPrefix = "env:";
constexpr std::string_view kFilePrefix = "file:";

SecretResult failure(std::string message) {
    return SecretResult{std::nullopt, std::move(message)};
}

SecretResult from_env(std::string_view ref) {
    std::string name(ref.substr(kEnvPrefix.size()));
    if (name.empty()) {
        return failure("secret reference \"env:\" names no variable");
    }
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) {
        return failure("secret reference \"" + std::string(ref) + "\": variable is not set");
    }
    return SecretResult{std::string(value), {}};
}

SecretResult from_file(std::string_view ref) {
    std::string path(ref.substr(kFilePrefix.size()));
    if (path.empty()) {
        return failure("secret reference \"file:\" names no file");
    }
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
        return failure("secret reference \"" + std::string(ref) + "\": is a directory");
    }
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    if (in) {
        text << in.rdbuf();
    }
    if (!in || in.bad()) {
        return failure("secret reference \"" + std::string(ref) +
                       "\": cannot read file: " + std::strerror(errno));
    }
    std::string value = std::move(text).str();
    // Editors and `echo` end files with a newline that is not part of the secret.
    if (!value.empty() && value.back() == '\n') {
        value.pop_back();
        if (!value.empty() && value.back() == '\r') {
            value.pop_back();
        }
    }
    return SecretResult{std::move(value), {}};
}

}  // namespace

SecretResult resolve_secret(std::string_view ref, bool allow_plain) {
    if (ref.starts_with(kEnvPrefix)) {
        return from_env(ref);
    }
    if (ref.starts_with(kFilePrefix)) {
        return from_file(ref);
    }
    if (allow_plain) {
        return SecretResult{std::string(ref), {}};
    }
    // The reference itself may be a password pasted in by mistake, so it is not echoed.
    return failure("secret reference is neither env:NAME nor file:PATH");
}

}  // namespace storegate::registry
