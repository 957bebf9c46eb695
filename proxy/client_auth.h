// Authentication of a client by storegate itself, as PostgreSQL does it (protocol docs,
// "Authentication Methods" and "SASL Authentication"). A client never learns whether the user
// exists or which part was wrong: unknown users go through a mock exchange and fail alike.
#pragma once

#include <string>

#include "config/config.h"
#include "proxy/auth_query.h"
#include "proxy/byte_buffer.h"
#include "proxy/client_stream.h"
#include "proxy/users_file.h"

namespace storegate::proxy {

struct AuthOutcome {
    bool ok = false;
    bool client_gone = false;  // closed or sent garbage: nothing more to say to it
    std::string reason;        // for logs and metrics: unknown_user, wrong_password, ...
};

class ClientAuthenticator {
  public:
    ClientAuthenticator(config::AuthType type, const UsersFile* users, uint32_t max_message);

    // Users the users file does not know are looked up with auth.auth_query.
    void set_auth_query(std::shared_ptr<AuthQuery> query) { query_ = std::move(query); }

    // Runs the exchange; on success AuthenticationOk has been queued in `out` (not yet sent).
    awaitable<AuthOutcome> run(ClientStream& client, ByteBuffer& in, const std::string& user,
                               std::string& out);

    // How reading a password message ended. kAbandoned: the client left (or sent Terminate)
    // instead, as psql does when it must ask for a password first: no password was tried.
    enum class Read { kOk, kAbandoned, kMalformed };

  private:
    awaitable<AuthOutcome> scram(ClientStream& client, ByteBuffer& in, const std::string& user,
                                 const Credential* cred, std::string& out);
    awaitable<AuthOutcome> scram_rounds(ClientStream& client, ByteBuffer& in,
                                        protocol::scram::ServerExchange& exchange, bool known,
                                        std::string_view first, std::string& out);
    awaitable<AuthOutcome> certificate(ClientStream& client, const std::string& user,
                                       std::string& out);
    awaitable<AuthOutcome> md5(ClientStream& client, ByteBuffer& in, const std::string& user,
                               const Credential* cred, std::string& out);
    awaitable<Read> read_password_message(ClientStream& client, ByteBuffer& in, std::string& body);
    protocol::scram::Verifier mock_verifier(const std::string& user) const;

    config::AuthType type_;
    const UsersFile* users_;
    uint32_t max_message_;
    std::string mock_secret_;
    std::shared_ptr<AuthQuery> query_;
};

}  // namespace storegate::proxy
