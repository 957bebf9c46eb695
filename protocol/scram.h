// SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL uses it (protocol docs, "SASL
// Authentication"): storegate is the server towards clients and the client towards backends.
// Pure code: nonces are passed in so the RFC 7677 example exchange can be replayed in tests.
// An exchange object belongs to one session and is used from that session's strand only.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace storegate::protocol::scram {

inline constexpr std::string_view kMechanism = "SCRAM-SHA-256";
inline constexpr std::string_view kMechanismPlus = "SCRAM-SHA-256-PLUS";

// A stored verifier, as in pg_authid:
//   SCRAM-SHA-256$<iter>:<salt b64>$<StoredKey b64>:<ServerKey b64>
struct Verifier {
    int iterations = 4096;
    std::string salt;        // raw bytes
    std::string stored_key;  // 32 raw bytes
    std::string server_key;  // 32 raw bytes
};

// nullopt unless the text is exactly that form with a positive iteration count, a non-empty
// salt and 32-byte keys.
std::optional<Verifier> parse_verifier(std::string_view text);
std::string format_verifier(const Verifier& v);
// Derives a verifier from a plain password (SASLprep is the identity for ASCII passwords).
// Limitation: passwords are not SASLprep-normalized - matters only for non-ASCII passwords
// whose normalized form differs from the bytes given.
Verifier make_verifier(std::string_view password, std::string_view salt, int iterations);

// Random printable nonce of `bytes` random bytes (base64), from OpenSSL's RAND_bytes. Empty
// if the random generator fails; callers must treat an empty nonce as an internal error.
std::string random_nonce(size_t bytes = 18);

// Standard alphabet with padding. Decoding is strict: the length must be a multiple of four,
// padding only at the end, no whitespace.
std::string base64_encode(std::string_view raw);
std::optional<std::string> base64_decode(std::string_view text);

enum class Status { kOk, kMalformed, kBadProof, kUnsupported };

// Server side (towards a client). Call order: client_first, then client_final. Each step
// returns kOk and fills its answer, or a failure after which the exchange is over:
// kMalformed (a protocol violation), kUnsupported (an authorization identity or a mandatory
// extension, which PostgreSQL refuses too), kBadProof (wrong password; nothing says which part
// was wrong).
class ServerExchange {
  public:
    // `channel_binding` holds the tls-server-end-point data when the client chose
    // SCRAM-SHA-256-PLUS; empty otherwise. `plus_offered` says whether the mechanisms sent to
    // the client included SCRAM-SHA-256-PLUS: a client that then says (gs2 flag "y") the
    // server cannot bind saw a downgraded list, and is refused.
    ServerExchange(Verifier verifier, std::string server_nonce, std::string channel_binding = {},
                   bool plus_offered = false);

    Status client_first(std::string_view message, std::string& server_first);
    Status client_final(std::string_view message, std::string& server_final);

  private:
    enum class Step { kClientFirst, kClientFinal, kDone };

    Status read_gs2_header(std::string_view message, size_t& bare_at);
    Status read_client_first_bare(std::string_view bare);
    Status check_client_final(std::string_view message, std::string& server_final);

    Verifier verifier_;
    std::string server_nonce_;
    std::string channel_binding_;
    bool plus_offered_ = false;
    Step step_ = Step::kClientFirst;
    std::string client_first_bare_;
    std::string server_first_;
    std::string combined_nonce_;
    std::string gs2_header_;
};

// Client side (towards a backend). Call order: client_first, server_first, server_final.
// Channel binding is not requested (gs2 flag "n").
// Limitation: no SCRAM-SHA-256-PLUS towards backends - matters only where a backend insists
// on channel binding for storegate's own connections.
class ClientExchange {
  public:
    // `user` goes into client-first; PostgreSQL ignores it (the startup packet names the
    // user), so the default empty name is what libpq sends as well.
    ClientExchange(std::string password, std::string client_nonce, std::string user = {});

    std::string client_first();
    Status server_first(std::string_view message, std::string& client_final);
    // kBadProof: the server sent an error, or could not prove it knows the verifier.
    Status server_final(std::string_view message);

  private:
    enum class Step { kClientFirst, kServerFirst, kServerFinal, kDone };

    std::string password_;
    std::string client_nonce_;
    std::string user_;
    Step step_ = Step::kClientFirst;
    std::string client_first_bare_;
    std::string server_signature_;
};

}  // namespace storegate::protocol::scram
