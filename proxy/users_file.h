// Client credentials in PgBouncer's userlist format: one `"name" "secret"` per line, a double
// quote inside a field written twice; the secret is a plain password, an md5 hash
// ("md5" + 32 hex) or a SCRAM-SHA-256 verifier. Immutable once loaded; shared by all threads.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "protocol/scram.h"

namespace storegate::proxy {

struct Credential {
    enum class Kind { kPlain, kMd5, kScram };
    Kind kind = Kind::kPlain;
    std::string secret;                                 // plain password or md5 hash
    std::optional<protocol::scram::Verifier> verifier;  // kScram, or derived from kPlain
};

// A secret as a users file or auth_query gives it: SCRAM verifier, md5 hash or plain password.
Credential credential_from_secret(std::string secret);

class UsersFile {
  public:
    struct LoadResult {
        bool ok = false;
        std::vector<std::string> errors;  // "path:line: message"; never a secret
    };
    LoadResult load(const std::string& path);
    const Credential* find(const std::string& user) const;
    size_t size() const { return users_.size(); }

  private:
    std::map<std::string, Credential> users_;
};

}  // namespace storegate::proxy
