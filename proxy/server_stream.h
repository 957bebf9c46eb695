// The server side of a session: a socket to a backend, possibly wrapped in TLS after
// PostgreSQL's SSLRequest (protocol docs, "SSL Session Encryption"). The relay reads and
// writes through it, so plain and encrypted backends share all code, as ClientStream does for
// clients. Owned by one thread at a time, like the ServerConn holding it.
#pragma once

#include <memory>
#include <string>

#include "proxy/tls_stream.h"

namespace storegate::proxy {

class ServerStream : public TlsStream {
  public:
    explicit ServerStream(asio::any_io_executor ex) : TlsStream(Socket(ex)) {}

    // Client side of a handshake. `host` goes out as SNI unless it is an IP literal, and is
    // checked against the certificate when `check_host` (sslmode verify-full).
    awaitable<error_code> start_tls(std::shared_ptr<ssl::context> context, const std::string& host,
                                    bool check_host);
    // Decrypted bytes waiting inside the TLS layer (an idle connection must have none).
    bool tls_pending() const { return tls_ && SSL_pending(tls_->native_handle()) > 0; }
    // Moves the connection to another executor; the TLS state moves with it.
    void rebind(asio::any_io_executor ex, const asio::generic::stream_protocol& protocol);
};

}  // namespace storegate::proxy
