#include "proxy/client_auth.h"

#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "protocol/backend.h"
#include "protocol/frontend.h"
#include "protocol/md5_auth.h"
#include "proxy/tls_context.h"

namespace storegate::proxy {

ClientAuthenticator::ClientAuthenticator(config::AuthType type, const UsersFile* users,
                                         uint32_t max_message)
    : type_(type), users_(users), max_message_(max_message), mock_secret_(32, '\0') {
    RAND_bytes(reinterpret_cast<unsigned char*>(mock_secret_.data()), 32);
}

protocol::scram::Verifier ClientAuthenticator::mock_verifier(const std::string& user) const {
    // Same salt for the same unknown user on every attempt, so probing cannot tell it apart
    // from a real one.
    unsigned char mac[32];
    unsigned int len = 0;
    HMAC(EVP_sha256(), mock_secret_.data(), static_cast<int>(mock_secret_.size()),
         reinterpret_cast<const unsigned char*>(user.data()), user.size(), mac, &len);
    protocol::scram::Verifier v;
    v.iterations = 4096;
    v.salt.assign(reinterpret_cast<char*>(mac), 16);
    v.stored_key.assign(reinterpret_cast<char*>(mac), 32);
    v.server_key.assign(reinterpret_cast<char*>(mac), 32);
    return v;
}

awaitable<AuthOutcome> ClientAuthenticator::run(ClientStream& client, ByteBuffer& in,
                                                const std::string& user, std::string& out) {
    if (type_ == config::AuthType::kTrust) {
        protocol::append_auth_ok(out);
        co_return AuthOutcome{true, false, ""};
    }
    if (type_ == config::AuthType::kCert) {
        co_return co_await certificate(client, user, out);
    }
    const Credential* cred = users_ != nullptr ? users_->find(user) : nullptr;
    std::optional<Credential> queried;
    if (cred == nullptr && query_) {
        queried = co_await query_->lookup(user);
        cred = queried ? &*queried : nullptr;
    }
    // As in PostgreSQL: md5 configured but a SCRAM verifier stored means SCRAM; an md5 hash
    // stored means md5 even when SCRAM is configured would fail, so it fails the same way.
    bool use_scram = type_ == config::AuthType::kScramSha256;
    if (cred != nullptr && cred->kind == Credential::Kind::kScram) {
        use_scram = true;
    }
    if (type_ == config::AuthType::kMd5 && cred != nullptr &&
        cred->kind != Credential::Kind::kScram) {
        use_scram = false;
    }
    if (use_scram) {
        co_return co_await scram(client, in, user, cred, out);
    }
    co_return co_await md5(client, in, user, cred, out);
}

awaitable<ClientAuthenticator::Read> ClientAuthenticator::read_password_message(
    ClientStream& client, ByteBuffer& in, std::string& body) {
    size_t consumed = 0;
    protocol::Frame frame;
    // Each co_await stands in its own statement: GCC 12 miscompiles co_await inside || and &&.
    bool read = co_await read_frame(client, in, consumed, max_message_, frame);
    if (!read) {
        co_return in.empty() ? Read::kAbandoned : Read::kMalformed;
    }
    if (frame.type == protocol::frontend::kTerminate) {
        co_return Read::kAbandoned;
    }
    if (frame.type != protocol::frontend::kPassword) {
        co_return Read::kMalformed;
    }
    body.assign(frame.body);
    in.consume(consumed);
    co_return Read::kOk;
}

// What a failed password read means for the login.
static AuthOutcome unread(ClientAuthenticator::Read read, const char* malformed) {
    if (read == ClientAuthenticator::Read::kAbandoned) {
        return AuthOutcome{false, true, "client_closed"};
    }
    return AuthOutcome{false, false, malformed};
}

// Over TLS both mechanisms are offered, SCRAM-SHA-256-PLUS first; PLUS binds the exchange to
// the TLS connection with tls-server-end-point (protocol docs, "SCRAM-SHA-256 Authentication").
awaitable<AuthOutcome> ClientAuthenticator::scram(ClientStream& client, ByteBuffer& in,
                                                  const std::string& user, const Credential* cred,
                                                  std::string& out) {
    bool known = cred != nullptr && cred->verifier.has_value();
    std::string end_point = client.encrypted() ? server_end_point(client.tls_handle()) : "";
    std::vector<std::string> mechanisms;
    if (!end_point.empty()) {
        mechanisms.emplace_back(protocol::scram::kMechanismPlus);
    }
    mechanisms.emplace_back(protocol::scram::kMechanism);
    std::string msg;
    protocol::append_auth_sasl(msg, mechanisms);
    auto [ec, n] = co_await client.write(asio::buffer(msg));
    if (ec) {
        co_return AuthOutcome{false, true, "client_closed"};
    }
    std::string body;
    std::string_view mechanism;
    std::string_view data;
    auto read = co_await read_password_message(client, in, body);
    if (read != Read::kOk) {
        co_return unread(read, "malformed_auth_read");
    }
    if (!protocol::parse_sasl_initial_response(body, mechanism, data) ||
        (mechanism != protocol::scram::kMechanism &&
         (end_point.empty() || mechanism != protocol::scram::kMechanismPlus))) {
        co_return AuthOutcome{false, false, "malformed_auth"};
    }
    bool plus = mechanism == protocol::scram::kMechanismPlus;
    protocol::scram::ServerExchange exchange(known ? *cred->verifier : mock_verifier(user),
                                             protocol::scram::random_nonce(),
                                             plus ? end_point : std::string(), !end_point.empty());
    co_return co_await scram_rounds(client, in, exchange, known, data, out);
}

awaitable<AuthOutcome> ClientAuthenticator::scram_rounds(ClientStream& client, ByteBuffer& in,
                                                         protocol::scram::ServerExchange& exchange,
                                                         bool known, std::string_view first,
                                                         std::string& out) {
    std::string server_first;
    if (exchange.client_first(first, server_first) != protocol::scram::Status::kOk) {
        co_return AuthOutcome{false, false, "malformed_scram_first"};
    }
    std::string msg;
    protocol::append_auth_sasl_continue(msg, server_first);
    auto [ec, n] = co_await client.write(asio::buffer(msg));
    if (ec) {
        co_return AuthOutcome{false, true, "client_closed"};
    }
    std::string final_body;
    auto read = co_await read_password_message(client, in, final_body);
    if (read != Read::kOk) {
        co_return unread(read, "malformed_scram_final");
    }
    std::string server_final;
    auto status = exchange.client_final(final_body, server_final);
    if (status != protocol::scram::Status::kOk || !known) {
        co_return AuthOutcome{false, false, known ? "wrong_password" : "unknown_user"};
    }
    protocol::append_auth_sasl_final(out, server_final);
    protocol::append_auth_ok(out);
    co_return AuthOutcome{true, false, ""};
}

// auth.type = cert: the verified client certificate's Common Name must be the user named in
// the startup packet, as PostgreSQL's "cert" method requires without a user name map.
// Limitation: no user name map (pg_ident.conf style) - matters when certificate names and
// database user names differ.
awaitable<AuthOutcome> ClientAuthenticator::certificate(ClientStream& client,
                                                        const std::string& user, std::string& out) {
    SSL* ssl = client.tls_handle();
    std::string name = ssl != nullptr ? peer_common_name(ssl) : std::string();
    if (name.empty()) {
        co_return AuthOutcome{false, false, "no_client_certificate"};
    }
    if (name != user) {
        co_return AuthOutcome{false, false, "certificate_user_mismatch"};
    }
    protocol::append_auth_ok(out);
    co_return AuthOutcome{true, false, ""};
}

awaitable<AuthOutcome> ClientAuthenticator::md5(ClientStream& client, ByteBuffer& in,
                                                const std::string& user, const Credential* cred,
                                                std::string& out) {
    uint8_t salt[4];
    RAND_bytes(salt, sizeof(salt));
    std::string msg;
    protocol::append_auth_md5(msg, salt);
    auto [ec, n] = co_await client.write(asio::buffer(msg));
    if (ec) {
        co_return AuthOutcome{false, true, "client_closed"};
    }
    std::string body;
    std::string_view password;
    auto read = co_await read_password_message(client, in, body);
    if (read != Read::kOk) {
        co_return unread(read, "malformed_auth");
    }
    if (!protocol::parse_password(body, password)) {
        co_return AuthOutcome{false, false, "malformed_auth"};
    }
    if (cred == nullptr || cred->kind == Credential::Kind::kScram) {
        co_return AuthOutcome{false, false, cred == nullptr ? "unknown_user" : "wrong_password"};
    }
    std::string expected = protocol::md5::response(user, cred->secret, salt);
    bool match = expected.size() == password.size() &&
                 CRYPTO_memcmp(expected.data(), password.data(), expected.size()) == 0;
    if (!match) {
        co_return AuthOutcome{false, false, "wrong_password"};
    }
    protocol::append_auth_ok(out);
    co_return AuthOutcome{true, false, ""};
}

}  // namespace storegate::proxy
