#include "protocol/md5_auth.h"

#include <openssl/evp.h>

namespace storegate::protocol::md5 {

namespace {

constexpr std::string_view kPrefix = "md5";
constexpr size_t kHexLength = 32;

// Lowercase hex of md5(data), as the server writes it; empty if the digest is unavailable
// (an OpenSSL built without md5), which then matches no stored hash.
std::string md5_hex(std::string_view data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), md, &len, EVP_md5(), nullptr) != 1) {
        return {};
    }
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(2 * len);
    for (unsigned int i = 0; i < len; ++i) {
        out.push_back(kDigits[md[i] >> 4]);
        out.push_back(kDigits[md[i] & 0xf]);
    }
    return out;
}

}  // namespace

std::string hash_password(std::string_view user, std::string_view password) {
    std::string input(password);
    input.append(user);
    return std::string(kPrefix) + md5_hex(input);
}

// "AuthenticationMD5Password": the client sends "md5" + md5(md5(password || user) || salt),
// where the inner hash is in hex, exactly as stored in pg_authid.
std::string response(std::string_view user, std::string_view stored, const uint8_t salt[4]) {
    std::string input = is_md5_hash(stored) ? std::string(stored.substr(kPrefix.size()))
                                            : hash_password(user, stored).substr(kPrefix.size());
    input.append(reinterpret_cast<const char*>(salt), 4);
    return std::string(kPrefix) + md5_hex(input);
}

bool is_md5_hash(std::string_view text) {
    if (text.size() != kPrefix.size() + kHexLength || !text.starts_with(kPrefix)) {
        return false;
    }
    for (const char c : text.substr(kPrefix.size())) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
    }
    return true;
}

}  // namespace storegate::protocol::md5
