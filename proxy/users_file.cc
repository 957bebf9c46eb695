#include "proxy/users_file.h"

#include <fstream>

#include "protocol/md5_auth.h"

namespace storegate::proxy {

// Reads one double-quoted field starting at `pos`; "" inside stands for one quote.
static bool read_quoted(const std::string& line, size_t& pos, std::string& out) {
    while (pos < line.size() && (line[pos] == ' ' || line[pos] == '\t')) {
        ++pos;
    }
    if (pos >= line.size() || line[pos] != '"') {
        return false;
    }
    ++pos;
    out.clear();
    while (pos < line.size()) {
        char c = line[pos++];
        if (c != '"') {
            out.push_back(c);
            continue;
        }
        if (pos < line.size() && line[pos] == '"') {
            out.push_back('"');
            ++pos;
            continue;
        }
        return true;
    }
    return false;
}

static Credential make_credential(std::string secret) {
    Credential c;
    if (auto v = protocol::scram::parse_verifier(secret)) {
        c.kind = Credential::Kind::kScram;
        c.verifier = std::move(v);
    } else if (protocol::md5::is_md5_hash(secret)) {
        c.kind = Credential::Kind::kMd5;
        c.secret = std::move(secret);
    } else {
        // A plain password serves SCRAM through a verifier derived once at load time, so a
        // login never pays for the key derivation.
        c.kind = Credential::Kind::kPlain;
        c.verifier = protocol::scram::make_verifier(
            secret, protocol::scram::random_nonce(16).substr(0, 16), 4096);
        c.secret = std::move(secret);
    }
    return c;
}

UsersFile::LoadResult UsersFile::load(const std::string& path) {
    LoadResult result;
    std::ifstream in(path);
    if (!in) {
        result.errors.push_back(path + ": cannot open users file");
        return result;
    }
    std::string line;
    int number = 0;
    while (std::getline(in, line)) {
        ++number;
        size_t first = line.find_first_not_of(" \t\r");
        if (first == std::string::npos || line[first] == '#' || line[first] == ';') {
            continue;
        }
        size_t pos = 0;
        std::string name;
        std::string secret;
        if (!read_quoted(line, pos, name) || !read_quoted(line, pos, secret) || name.empty()) {
            result.errors.push_back(path + ":" + std::to_string(number) +
                                    ": expected \"name\" \"secret\"");
            continue;
        }
        users_[name] = make_credential(std::move(secret));
    }
    result.ok = result.errors.empty();
    return result;
}

Credential credential_from_secret(std::string secret) {
    return make_credential(std::move(secret));
}

const Credential* UsersFile::find(const std::string& user) const {
    auto it = users_.find(user);
    return it == users_.end() ? nullptr : &it->second;
}

}  // namespace storegate::proxy
