// The client side of a session: a socket, later possibly wrapped in TLS. Every session reads
// and writes its client only through this type, so plain and encrypted clients share all code.
// Owned by the session's thread.
#pragma once

#include <memory>
#include <tuple>
#include <vector>

#include "protocol/frame.h"
#include "proxy/byte_buffer.h"
#include "proxy/net.h"
#include "proxy/tls_context.h"

namespace storegate::proxy {

class ClientStream {
  public:
    explicit ClientStream(Socket socket) : socket_(std::move(socket)) {}
    ClientStream(const ClientStream&) = delete;  // the TLS layer refers to socket_
    ClientStream& operator=(const ClientStream&) = delete;

    awaitable<std::tuple<error_code, size_t>> read_some(asio::mutable_buffer buffer) {
        if (tls_) {
            co_return co_await tls_->async_read_some(buffer, nothrow);
        }
        co_return co_await socket_.async_read_some(buffer, nothrow);
    }
    awaitable<error_code> write(asio::const_buffer buffer) {
        auto [ec, n] = tls_ ? co_await asio::async_write(*tls_, buffer, nothrow)
                            : co_await write_plain(socket_, &buffer, 1);
        co_return ec;
    }
    awaitable<error_code> write(const std::vector<asio::const_buffer>& buffers) {
        auto [ec, n] = tls_ ? co_await asio::async_write(*tls_, buffers, nothrow)
                            : co_await write_plain(socket_, buffers.data(), buffers.size());
        co_return ec;
    }
    // Runs the server side of a TLS handshake; from then on every read and write is encrypted.
    // The context is held for the session's life, so a reload cannot pull it away.
    awaitable<error_code> start_tls(std::shared_ptr<ssl::context> context) {
        context_ = std::move(context);
        tls_ = std::make_unique<ssl::stream<Socket&>>(socket_, *context_);
        auto [ec] = co_await tls_->async_handshake(ssl::stream_base::server, nothrow);
        co_return ec;
    }
    bool encrypted() const { return tls_ != nullptr; }
    // The OpenSSL connection, null before start_tls.
    SSL* tls_handle() { return tls_ ? tls_->native_handle() : nullptr; }
    void close() {
        // No TLS close_notify: the peer learns of the end from the TCP close, as with
        // PostgreSQL, and a client that stopped reading cannot stall the close.
        error_code ignored;
        socket_.shutdown(Socket::shutdown_both, ignored);
        socket_.close(ignored);
    }
    Socket& socket() { return socket_; }
    asio::any_io_executor executor() { return socket_.get_executor(); }

  private:
    Socket socket_;
    std::shared_ptr<ssl::context> context_;
    std::unique_ptr<ssl::stream<Socket&>> tls_;
};

// Reads until one whole typed message is in `buf` (after dropping the `consumed` bytes of the
// previous one). Returns false on EOF, error or a malformed/oversized length.
template <typename Stream>
awaitable<bool> read_frame(Stream& stream, ByteBuffer& buf, size_t& consumed, uint32_t max_length,
                           protocol::Frame& out) {
    buf.consume(consumed);
    consumed = 0;
    for (;;) {
        auto status = protocol::decode_frame(buf.bytes(), max_length, out);
        if (status == protocol::FrameStatus::kReady) {
            consumed = out.size;
            co_return true;
        }
        if (status == protocol::FrameStatus::kInvalid) {
            co_return false;
        }
        auto space = buf.prepare(1024);
        auto [ec, n] = co_await stream.read_some(asio::buffer(space.data(), space.size()));
        if (ec || n == 0) {
            co_return false;
        }
        buf.commit(n);
    }
}

}  // namespace storegate::proxy
