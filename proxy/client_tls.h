// The TLS openings of a client connection (protocol docs, "SSL Session Encryption"): the
// SSLRequest answered with 'S' and a handshake, and PostgreSQL 17's direct TLS, where the
// ClientHello itself is the first thing the client sends and ALPN must name "postgresql".
#pragma once

#include <memory>
#include <string>

#include "config/config.h"
#include "proxy/client_stream.h"

namespace storegate::proxy {

enum class TlsOpening { kPlain, kEncrypted, kFailed };

// Looks at the first byte without consuming it: a TLS handshake record (0x16) means direct
// TLS, which is then accepted when `context` is set and client_mode is not disable. kPlain
// when the client opened in plain protocol; kFailed when the connection is of no further use
// (closed, handshake failure, no ALPN "postgresql").
awaitable<TlsOpening> accept_direct_tls(ClientStream& client, std::shared_ptr<ssl::context> context,
                                        config::TlsClientMode mode);

// Answers an SSLRequest: 'S' and a handshake when TLS is available, 'N' otherwise. `buffered`
// says whether bytes followed the request before the answer: they were sent in plain text
// and would be taken as encrypted input (CVE-2021-23214), so the connection is refused.
awaitable<TlsOpening> answer_ssl_request(ClientStream& client,
                                         std::shared_ptr<ssl::context> context,
                                         config::TlsClientMode mode, bool buffered);

// The store a client asked for through the TLS server name, or empty.
std::string client_server_name(ClientStream& client);

}  // namespace storegate::proxy
