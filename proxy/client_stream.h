// The client side of a session: a socket, later possibly wrapped in TLS. Every session reads
// and writes its client only through this type, so plain and encrypted clients share all code.
// Owned by the session's thread.
#pragma once

#include <tuple>
#include <vector>

#include "protocol/frame.h"
#include "proxy/byte_buffer.h"
#include "proxy/net.h"

namespace storegate::proxy {

class ClientStream {
  public:
    explicit ClientStream(Socket socket) : socket_(std::move(socket)) {}

    awaitable<std::tuple<error_code, size_t>> read_some(asio::mutable_buffer buffer) {
        co_return co_await socket_.async_read_some(buffer, nothrow);
    }
    awaitable<error_code> write(asio::const_buffer buffer) {
        auto [ec, n] = co_await asio::async_write(socket_, buffer, nothrow);
        co_return ec;
    }
    awaitable<error_code> write(const std::vector<asio::const_buffer>& buffers) {
        auto [ec, n] = co_await asio::async_write(socket_, buffers, nothrow);
        co_return ec;
    }
    void close() {
        error_code ignored;
        socket_.shutdown(Socket::shutdown_both, ignored);
        socket_.close(ignored);
    }
    Socket& socket() { return socket_; }
    asio::any_io_executor executor() { return socket_.get_executor(); }

  private:
    Socket socket_;
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
