// SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL uses it (protocol docs, "SASL
// Authentication"): storegate is the server towards clients and the client towards backends.
// Pure code: nonces are passed in so the RFC 7677 example exchange can be replayed in tests.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace storegate::protocol::scram {

inline constexpr std::string_view kMechanism = "SCRAM-SHA-256";
inline constexpr std::string_view kMechanismPlus = "SCRAM-SHA-256-PLUS";

// A stored verifier, as in pg_authid: SCRAM-SHA-256$<iter>:<salt b64>$<StoredKey b64>:<ServerKey b64>
struct Verifier {
    int iterations = 4096;
    std::string salt;        // raw bytes
    std::string stored_key;  // 32 raw bytes
    std::string server_key;  // 32 raw bytes
};

std::optional<Verifier> parse_verifier(std::string_view text);
std::string format_verifier(const Verifier& v);
// Derives a verifier from a plain password (SASLprep is the identity for ASCII passwords).
Verifier make_verifier(std::string_view password, std::string_view salt, int iterations);

// Random printable nonce of `bytes` random bytes (base64), from OpenSSL's RAND_bytes.
std::string random_nonce(size_t bytes = 18);

std::string base64_encode(std::string_view raw);
std::optional<std::string> base64_decode(std::string_view text);

enum class Status { kOk, kMalformed, kBadProof, kUnsupported };

// Server side (towards a client). Call order: client_first, then client_final.
class ServerExchange {
public:
    // `channel_binding` holds the tls-server-end-point data when the client chose
    // SCRAM-SHA-256-PLUS; empty otherwise.
    ServerExchange(Verifier verifier, std::string server_nonce, std::string channel_binding = {});

    Status client_first(std::string_view message, std::string& server_first);
    Status client_final(std::string_view message, std::string& server_final);

private:
    Verifier verifier_;
    std::string server_nonce_;
    std::string channel_binding_;
    std::string client_first_bare_;
    std::string server_first_;
    std::string combined_nonce_;
    std::string gs2_header_;
};

// Client side (towards a backend).
class ClientExchange {
public:
    ClientExchange(std::string password, std::string client_nonce);

    std::string client_first();
    Status server_first(std::string_view message, std::string& client_final);
    Status server_final(std::string_view message);

private:
    std::string password_;
    std::string client_nonce_;
    std::string client_first_bare_;
    std::string server_signature_;
};

}  // namespace storegate::protocol::scram
