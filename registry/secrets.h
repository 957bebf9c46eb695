// Resolution of secret references: "env:NAME" reads an environment variable, "file:PATH" reads
// a file (trailing newline dropped). Anything else is taken literally only where the caller
// allows plain values. Error messages name the reference, never the secret.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace storegate::registry {

struct SecretResult {
    std::optional<std::string> value;
    std::string error;  // set when value is empty
};

SecretResult resolve_secret(std::string_view ref, bool allow_plain = false);

}  // namespace storegate::registry
