// md5 password authentication (protocol docs, "AuthenticationMD5Password"):
// stored form "md5" + hex(md5(password || user)); response "md5" + hex(md5(stored_hex || salt)).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace storegate::protocol::md5 {

std::string hash_password(std::string_view user, std::string_view password);
// `stored` is either a plain password or an "md5..." hash as produced by hash_password.
std::string response(std::string_view user, std::string_view stored, const uint8_t salt[4]);
bool is_md5_hash(std::string_view text);

}  // namespace storegate::protocol::md5
