#include "protocol/scram.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <charconv>
#include <climits>
#include <vector>

namespace storegate::protocol::scram {

namespace {

constexpr size_t kKeySize = SHA256_DIGEST_LENGTH;
constexpr std::string_view kVerifierPrefix = "SCRAM-SHA-256$";
constexpr std::string_view kClientKeyLabel = "Client Key";
constexpr std::string_view kServerKeyLabel = "Server Key";
constexpr std::string_view kGs2NoBinding = "n,,";
constexpr std::string_view kEndPointBinding = "p=tls-server-end-point";

const unsigned char* uchars(std::string_view s) {
    return reinterpret_cast<const unsigned char*>(s.data());
}

std::string hmac(std::string_view key, std::string_view data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (key.size() > INT_MAX || HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
                                     uchars(data), data.size(), md, &len) == nullptr) {
        return {};
    }
    return std::string(reinterpret_cast<const char*>(md), len);
}

std::string sha256(std::string_view data) {
    unsigned char md[kKeySize];
    SHA256(uchars(data), data.size(), md);
    return std::string(reinterpret_cast<const char*>(md), kKeySize);
}

// Unequal sizes give an empty result, which then fails every comparison.
std::string xor_bytes(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) {
        return {};
    }
    std::string out(a.size(), '\0');
    for (size_t i = 0; i < a.size(); ++i) {
        out[i] = static_cast<char>(a[i] ^ b[i]);
    }
    return out;
}

// Secrets and proofs are compared in constant time so timing reveals nothing of them.
bool equal_ct(std::string_view a, std::string_view b) {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

struct Keys {
    std::string client_key;
    std::string stored_key;
    std::string server_key;
};

// RFC 5802 section 3: SaltedPassword := Hi(password, salt, i), then the three keys from it.
Keys derive_keys(std::string_view password, std::string_view salt, int iterations) {
    std::string salted(kKeySize, '\0');
    if (password.size() > INT_MAX || salt.size() > INT_MAX ||
        PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), uchars(salt),
                          static_cast<int>(salt.size()), iterations, EVP_sha256(),
                          static_cast<int>(kKeySize),
                          reinterpret_cast<unsigned char*>(salted.data())) != 1) {
        return {};
    }
    Keys keys;
    keys.client_key = hmac(salted, kClientKeyLabel);
    keys.stored_key = sha256(keys.client_key);
    keys.server_key = hmac(salted, kServerKeyLabel);
    OPENSSL_cleanse(salted.data(), salted.size());
    return keys;
}

bool parse_positive_int(std::string_view text, int& out) {
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, out);
    return !text.empty() && ec == std::errc() && ptr == end && out > 0;
}

// RFC 5802 section 7: a message is comma-separated attributes, each `letter=value`.
std::vector<std::string_view> split_attrs(std::string_view message) {
    std::vector<std::string_view> parts;
    size_t start = 0;
    for (;;) {
        const size_t comma = message.find(',', start);
        parts.push_back(message.substr(start, comma - start));
        if (comma == std::string_view::npos) {
            return parts;
        }
        start = comma + 1;
    }
}

bool is_attr(std::string_view part) {
    const char c = part.empty() ? '\0' : part[0];
    return part.size() >= 2 && part[1] == '=' && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
}

bool attr(std::string_view part, char name, std::string_view& value) {
    if (!is_attr(part) || part[0] != name) {
        return false;
    }
    value = part.substr(2);
    return true;
}

bool all_attrs(const std::vector<std::string_view>& parts, size_t from) {
    for (size_t i = from; i < parts.size(); ++i) {
        if (!is_attr(parts[i])) {
            return false;
        }
    }
    return true;
}

// RFC 5802 section 7: a nonce is printable ASCII other than the comma.
bool valid_nonce(std::string_view nonce) {
    for (const char c : nonce) {
        if (c < 0x21 || c > 0x7e || c == ',') {
            return false;
        }
    }
    return !nonce.empty();
}

// RFC 5802 section 5.1: "=" and "," in a user name are written as "=3D" and "=2C".
std::string escape_saslname(std::string_view name) {
    std::string out;
    for (const char c : name) {
        if (c == '=') {
            out += "=3D";
        } else if (c == ',') {
            out += "=2C";
        } else {
            out.push_back(c);
        }
    }
    return out;
}

bool is_base64_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

}  // namespace

std::string base64_encode(std::string_view raw) {
    if (raw.size() > INT_MAX / 4 * 3) {
        return {};
    }
    std::string out(4 * ((raw.size() + 2) / 3) + 1, '\0');  // EVP_EncodeBlock adds a NUL
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), uchars(raw),
                                  static_cast<int>(raw.size()));
    out.resize(n < 0 ? 0 : static_cast<size_t>(n));
    return out;
}

// EVP_DecodeBlock skips surrounding whitespace and counts padding as data, so the text is
// checked here first and the padding taken off the result.
std::optional<std::string> base64_decode(std::string_view text) {
    if (text.size() % 4 != 0 || text.size() > INT_MAX) {
        return std::nullopt;
    }
    const size_t pad = text.ends_with("==") ? 2 : text.ends_with('=') ? 1 : 0;
    for (size_t i = 0; i < text.size() - pad; ++i) {
        if (!is_base64_char(text[i])) {
            return std::nullopt;
        }
    }
    std::string out(text.size() / 4 * 3, '\0');
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()), uchars(text),
                                  static_cast<int>(text.size()));
    if (n < 0 || static_cast<size_t>(n) < pad) {
        return std::nullopt;
    }
    out.resize(static_cast<size_t>(n) - pad);
    return out;
}

std::string random_nonce(size_t bytes) {
    std::string raw(bytes, '\0');
    if (bytes == 0 || bytes > INT_MAX ||
        RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1) {
        return {};
    }
    return base64_encode(raw);
}

std::optional<Verifier> parse_verifier(std::string_view text) {
    if (!text.starts_with(kVerifierPrefix)) {
        return std::nullopt;
    }
    text.remove_prefix(kVerifierPrefix.size());
    const size_t dollar = text.find('$');
    const size_t colon1 = text.substr(0, dollar).find(':');
    const size_t colon2 = dollar == std::string_view::npos ? dollar : text.find(':', dollar);
    if (dollar == std::string_view::npos || colon1 == std::string_view::npos ||
        colon2 == std::string_view::npos) {
        return std::nullopt;
    }
    Verifier v;
    auto salt = base64_decode(text.substr(colon1 + 1, dollar - colon1 - 1));
    auto stored = base64_decode(text.substr(dollar + 1, colon2 - dollar - 1));
    auto server = base64_decode(text.substr(colon2 + 1));
    if (!parse_positive_int(text.substr(0, colon1), v.iterations) || !salt || salt->empty() ||
        !stored || stored->size() != kKeySize || !server || server->size() != kKeySize) {
        return std::nullopt;
    }
    v.salt = std::move(*salt);
    v.stored_key = std::move(*stored);
    v.server_key = std::move(*server);
    return v;
}

std::string format_verifier(const Verifier& v) {
    return std::string(kVerifierPrefix) + std::to_string(v.iterations) + ":" +
           base64_encode(v.salt) + "$" + base64_encode(v.stored_key) + ":" +
           base64_encode(v.server_key);
}

Verifier make_verifier(std::string_view password, std::string_view salt, int iterations) {
    Keys keys = derive_keys(password, salt, iterations);
    return Verifier{iterations, std::string(salt), std::move(keys.stored_key),
                    std::move(keys.server_key)};
}

ServerExchange::ServerExchange(Verifier verifier, std::string server_nonce,
                               std::string channel_binding, bool plus_offered)
    : verifier_(std::move(verifier)),
      server_nonce_(std::move(server_nonce)),
      channel_binding_(std::move(channel_binding)),
      plus_offered_(plus_offered) {}

Status ServerExchange::client_first(std::string_view message, std::string& server_first) {
    if (step_ != Step::kClientFirst) {
        return Status::kMalformed;
    }
    step_ = Step::kDone;
    size_t bare_at = 0;
    Status status = read_gs2_header(message, bare_at);
    if (status == Status::kOk) {
        status = read_client_first_bare(message.substr(bare_at));
    }
    if (status != Status::kOk) {
        return status;
    }
    server_first_ = "r=" + combined_nonce_ + ",s=" + base64_encode(verifier_.salt) +
                    ",i=" + std::to_string(verifier_.iterations);
    server_first = server_first_;
    step_ = Step::kClientFinal;
    return Status::kOk;
}

// RFC 5802 section 7: gs2-header = gs2-cbind-flag "," [authzid] ",". The flag must agree with
// the mechanism the client chose: "p=..." only with -PLUS, "n" or "y" only without it, and "y"
// (client could bind, thinks the server cannot) is a downgrade when -PLUS was offered.
Status ServerExchange::read_gs2_header(std::string_view message, size_t& bare_at) {
    const size_t flag_end = message.find(',');
    const size_t authz_end =
        flag_end == std::string_view::npos ? flag_end : message.find(',', flag_end + 1);
    if (authz_end == std::string_view::npos) {
        return Status::kMalformed;
    }
    const std::string_view flag = message.substr(0, flag_end);
    const bool binding = !channel_binding_.empty();
    if (flag.starts_with("p=")) {
        if (!binding) {
            return Status::kMalformed;
        }
        if (flag != kEndPointBinding) {
            return Status::kUnsupported;
        }
    } else if ((flag != "n" && flag != "y") || binding || (flag == "y" && plus_offered_)) {
        return Status::kMalformed;
    }
    const std::string_view authzid = message.substr(flag_end + 1, authz_end - flag_end - 1);
    if (!authzid.empty()) {
        return authzid.starts_with("a=") ? Status::kUnsupported : Status::kMalformed;
    }
    gs2_header_ = message.substr(0, authz_end + 1);
    bare_at = authz_end + 1;
    return Status::kOk;
}

// client-first-message-bare = [reserved-mext ","] username "," nonce ["," extensions].
// The user name is not checked: PostgreSQL clients send it empty, the startup packet names
// the user.
Status ServerExchange::read_client_first_bare(std::string_view bare) {
    const std::vector<std::string_view> parts = split_attrs(bare);
    if (parts[0].starts_with("m=")) {
        return Status::kUnsupported;
    }
    std::string_view user;
    std::string_view nonce;
    if (parts.size() < 2 || !attr(parts[0], 'n', user) || !attr(parts[1], 'r', nonce) ||
        !valid_nonce(nonce) || !all_attrs(parts, 2)) {
        return Status::kMalformed;
    }
    client_first_bare_ = bare;
    combined_nonce_ = std::string(nonce) + server_nonce_;
    return Status::kOk;
}

Status ServerExchange::client_final(std::string_view message, std::string& server_final) {
    if (step_ != Step::kClientFinal) {
        return Status::kMalformed;
    }
    step_ = Step::kDone;
    return check_client_final(message, server_final);
}

// client-final-message = channel-binding "," nonce ["," extensions] "," proof. The proof is
// checked as RFC 5802 section 3 describes: ClientKey = proof XOR HMAC(StoredKey, AuthMessage)
// must hash to StoredKey.
Status ServerExchange::check_client_final(std::string_view message, std::string& server_final) {
    const std::vector<std::string_view> parts = split_attrs(message);
    std::string_view cbind;
    std::string_view nonce;
    std::string_view proof_b64;
    if (parts.size() < 3 || !attr(parts[0], 'c', cbind) || !attr(parts[1], 'r', nonce) ||
        !attr(parts.back(), 'p', proof_b64) || !all_attrs(parts, 2)) {
        return Status::kMalformed;
    }
    const std::optional<std::string> binding = base64_decode(cbind);
    const std::optional<std::string> proof = base64_decode(proof_b64);
    if (!binding || !proof || proof->size() != kKeySize || nonce != combined_nonce_ ||
        !equal_ct(*binding, gs2_header_ + channel_binding_)) {
        return Status::kMalformed;
    }
    const std::string_view without_proof =
        message.substr(0, message.size() - parts.back().size() - 1);
    const std::string auth =
        client_first_bare_ + "," + server_first_ + "," + std::string(without_proof);
    const std::string client_key = xor_bytes(*proof, hmac(verifier_.stored_key, auth));
    if (!equal_ct(sha256(client_key), verifier_.stored_key)) {
        return Status::kBadProof;
    }
    server_final = "v=" + base64_encode(hmac(verifier_.server_key, auth));
    return Status::kOk;
}

ClientExchange::ClientExchange(std::string password, std::string client_nonce, std::string user)
    : password_(std::move(password)),
      client_nonce_(std::move(client_nonce)),
      user_(std::move(user)) {}

std::string ClientExchange::client_first() {
    client_first_bare_ = "n=" + escape_saslname(user_) + ",r=" + client_nonce_;
    step_ = Step::kServerFirst;
    return std::string(kGs2NoBinding) + client_first_bare_;
}

// server-first-message = [reserved-mext ","] nonce "," salt "," iteration-count
// ["," extensions]. The nonce must extend the one this client sent.
Status ClientExchange::server_first(std::string_view message, std::string& client_final) {
    if (step_ != Step::kServerFirst) {
        return Status::kMalformed;
    }
    step_ = Step::kDone;
    const std::vector<std::string_view> parts = split_attrs(message);
    if (parts[0].starts_with("m=")) {
        return Status::kUnsupported;
    }
    std::string_view nonce;
    std::string_view salt_b64;
    std::string_view iter_text;
    int iterations = 0;
    if (parts.size() < 3 || !attr(parts[0], 'r', nonce) || !attr(parts[1], 's', salt_b64) ||
        !attr(parts[2], 'i', iter_text) || !all_attrs(parts, 3) ||
        !parse_positive_int(iter_text, iterations) || !valid_nonce(nonce) ||
        nonce.size() <= client_nonce_.size() || !nonce.starts_with(client_nonce_)) {
        return Status::kMalformed;
    }
    const std::optional<std::string> salt = base64_decode(salt_b64);
    if (!salt || salt->empty()) {
        return Status::kMalformed;
    }
    const Keys keys = derive_keys(password_, *salt, iterations);
    const std::string without_proof =
        "c=" + base64_encode(kGs2NoBinding) + ",r=" + std::string(nonce);
    const std::string auth = client_first_bare_ + "," + std::string(message) + "," + without_proof;
    const std::string proof = xor_bytes(keys.client_key, hmac(keys.stored_key, auth));
    server_signature_ = hmac(keys.server_key, auth);
    client_final = without_proof + ",p=" + base64_encode(proof);
    step_ = Step::kServerFinal;
    return Status::kOk;
}

// server-final-message = (server-error / verifier) ["," extensions].
Status ClientExchange::server_final(std::string_view message) {
    if (step_ != Step::kServerFinal) {
        return Status::kMalformed;
    }
    step_ = Step::kDone;
    const std::vector<std::string_view> parts = split_attrs(message);
    std::string_view value;
    if (attr(parts[0], 'e', value)) {
        return Status::kBadProof;
    }
    if (!attr(parts[0], 'v', value) || !all_attrs(parts, 1)) {
        return Status::kMalformed;
    }
    const std::optional<std::string> signature = base64_decode(value);
    if (!signature) {
        return Status::kMalformed;
    }
    return equal_ct(*signature, server_signature_) ? Status::kOk : Status::kBadProof;
}

}  // namespace storegate::protocol::scram
