// TLS contexts (OpenSSL through asio::ssl) for both legs of a session: towards clients,
// built from [tls] and rebuilt on every reload so new certificates apply to new sessions while
// running sessions keep the context they started with; and towards backends, one per sslmode.
#pragma once

#include <boost/asio/ssl.hpp>

#include <memory>
#include <string>

#include "config/config.h"

namespace storegate::proxy {

namespace ssl = boost::asio::ssl;

// ALPN protocol name of PostgreSQL's direct TLS (protocol docs, "SSL Session Encryption").
inline constexpr std::string_view kAlpnPostgresql = "postgresql";

// The client-facing context: TLS 1.2 minimum, forward-secret AEAD ciphers, ALPN
// "postgresql" accepted, client certificates requested when ca_file is set. Null when TLS is
// off; null with `error` set when a file cannot be loaded.
std::shared_ptr<ssl::context> make_client_tls(const config::TlsConfig& tls, std::string& error);

// Contexts towards backends, by libpq sslmode. verify-ca and verify-full trust server_ca_file
// (the system store when it is empty); the others do not verify the certificate.
struct BackendTls {
    std::shared_ptr<ssl::context> unverified;
    std::shared_ptr<ssl::context> verified;
};
BackendTls make_backend_tls(const config::TlsConfig& tls, std::string& error);

// tls-server-end-point channel binding data (RFC 5929 section 4.1): the hash of our own
// certificate, with SHA-256 standing in for MD5 and SHA-1. Empty if it cannot be computed.
std::string server_end_point(SSL* ssl);
// The server name the client sent (SNI), lower-cased; empty when none.
std::string requested_server_name(SSL* ssl);
// The Common Name of the client's verified certificate; empty when there is none.
std::string peer_common_name(SSL* ssl);
// Whether ALPN settled on "postgresql".
bool negotiated_postgresql(SSL* ssl);

}  // namespace storegate::proxy
