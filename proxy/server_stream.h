// The server side of a session: a socket to a backend, possibly wrapped in TLS after
// PostgreSQL's SSLRequest (protocol docs, "SSL Session Encryption"). The relay reads and
// writes through it, so plain and encrypted backends share all code, as ClientStream does for
// clients. Owned by one thread at a time, like the ServerConn holding it.
#pragma once

#include <memory>
#include <tuple>

#include "proxy/net.h"
#include "proxy/tls_context.h"

namespace storegate::proxy {

class ServerStream {
  public:
    explicit ServerStream(asio::any_io_executor ex) : socket_(ex) {}
    ServerStream(const ServerStream&) = delete;  // the TLS layer refers to socket_
    ServerStream& operator=(const ServerStream&) = delete;

    awaitable<std::tuple<error_code, size_t>> read_some(asio::mutable_buffer buffer) {
        if (tls_) {
            co_return co_await tls_->async_read_some(buffer, nothrow);
        }
        co_return co_await socket_.async_read_some(buffer, nothrow);
    }
    awaitable<std::tuple<error_code, size_t>> write(asio::const_buffer buffer) {
        if (tls_) {
            co_return co_await asio::async_write(*tls_, buffer, nothrow);
        }
        co_return co_await write_plain(socket_, &buffer, 1);
    }
    awaitable<std::tuple<error_code, size_t>> write(
        const std::vector<asio::const_buffer>& buffers) {
        if (tls_) {
            co_return co_await asio::async_write(*tls_, buffers, nothrow);
        }
        co_return co_await write_plain(socket_, buffers.data(), buffers.size());
    }
    // Client side of a handshake. `host` goes out as SNI unless it is an IP literal, and is
    // checked against the certificate when `check_host` (sslmode verify-full).
    awaitable<error_code> start_tls(std::shared_ptr<ssl::context> context, const std::string& host,
                                    bool check_host);
    bool encrypted() const { return tls_ != nullptr; }
    // Decrypted bytes waiting inside the TLS layer (an idle connection must have none).
    bool tls_pending() const { return tls_ && SSL_pending(tls_->native_handle()) > 0; }
    // Moves the connection to another executor; the TLS state moves with it.
    void rebind(asio::any_io_executor ex, const asio::generic::stream_protocol& protocol);
    Socket& socket() { return socket_; }

  private:
    Socket socket_;
    std::shared_ptr<ssl::context> context_;
    std::unique_ptr<ssl::stream<Socket&>> tls_;
};

}  // namespace storegate::proxy
