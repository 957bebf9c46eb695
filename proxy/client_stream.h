// The client side of a session: a socket, later possibly wrapped in TLS. Every session reads
// and writes its client only through this type, so plain and encrypted clients share all code.
// Owned by the session's thread.
#pragma once

#include <memory>
#include <vector>

#include "protocol/frame.h"
#include "proxy/byte_buffer.h"
#include "proxy/tls_stream.h"

namespace storegate::proxy {

class ClientStream : public TlsStream {
  public:
    explicit ClientStream(Socket socket) : TlsStream(std::move(socket)) {}

    // Runs the server side of a TLS handshake; from then on every read and write is encrypted.
    awaitable<error_code> start_tls(std::shared_ptr<ssl::context> context) {
        wrap(std::move(context));
        auto [ec] = co_await tls_->async_handshake(ssl::stream_base::server, nothrow);
        co_return ec;
    }
    // The OpenSSL connection, null before start_tls.
    SSL* tls_handle() { return tls_ ? tls_->native_handle() : nullptr; }
    void close() {
        // No TLS close_notify: the peer learns of the end from the TCP close, as with
        // PostgreSQL, and a client that stopped reading cannot stall the close.
        error_code ignored;
        socket_.shutdown(Socket::shutdown_both, ignored);
        socket_.close(ignored);
    }
    asio::any_io_executor executor() { return socket_.get_executor(); }
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
