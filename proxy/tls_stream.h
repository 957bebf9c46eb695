// A socket that may be wrapped in TLS after its handshake: reads and writes go through the TLS
// layer once there is one, so plain and encrypted peers share all code. The client and server
// sides of a session (ClientStream, ServerStream) each add their own handshake.
#pragma once

#include <memory>
#include <tuple>
#include <vector>

#include "proxy/net.h"
#include "proxy/tls_context.h"

namespace storegate::proxy {

class TlsStream {
  public:
    TlsStream(const TlsStream&) = delete;  // the TLS layer refers to socket_
    TlsStream& operator=(const TlsStream&) = delete;

    // An asynchronous operation rather than a coroutine: a waiting reader (every idle client)
    // keeps no frame of its own, and no frame is made per read.
    awaitable<std::tuple<error_code, size_t>> read_some(asio::mutable_buffer buffer) {
        auto start = [this](auto handler, asio::mutable_buffer into) {
            if (tls_) {
                tls_->async_read_some(into, std::move(handler));
            } else {
                socket_.async_read_some(into, std::move(handler));
            }
        };
        return asio::async_initiate<decltype(nothrow), void(error_code, size_t)>(start, nothrow,
                                                                                 buffer);
    }
    // Writes all of `buffer` (plain sockets: straight from the calling coroutine, see net.h).
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
    bool encrypted() const { return tls_ != nullptr; }
    Socket& socket() { return socket_; }

  protected:
    explicit TlsStream(Socket socket) : socket_(std::move(socket)) {}
    ~TlsStream() = default;
    // Wraps the socket in TLS under `context`, held for the stream's life so that a reload
    // cannot pull it away; the caller runs the handshake.
    void wrap(std::shared_ptr<ssl::context> context) {
        context_ = std::move(context);
        tls_ = std::make_unique<ssl::stream<Socket&>>(socket_, *context_);
    }

    Socket socket_;
    std::shared_ptr<ssl::context> context_;
    std::unique_ptr<ssl::stream<Socket&>> tls_;
};

}  // namespace storegate::proxy
