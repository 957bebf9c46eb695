#include "proxy/net.h"

#include <sys/socket.h>

#include <gtest/gtest.h>

#include <csignal>
#include <string>
#include <vector>

namespace storegate::proxy {
namespace {

struct SocketPair {
    explicit SocketPair(asio::io_context& io) : writer(io), reader(io) {
        int fds[2];
        EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
        asio::generic::stream_protocol unix_stream(AF_UNIX, SOCK_STREAM);
        writer.assign(unix_stream, fds[0]);
        reader.assign(unix_stream, fds[1]);
    }
    Socket writer;
    Socket reader;
};

awaitable<void> write_all(Socket& socket, const std::vector<std::string>& parts, error_code& ec_out,
                          size_t& written) {
    std::vector<asio::const_buffer> buffers;
    for (const auto& part : parts) {
        buffers.push_back(asio::buffer(part));
    }
    auto [ec, n] = co_await write_plain(socket, buffers.data(), buffers.size());
    ec_out = ec;
    written = n;
    error_code ignored;
    socket.shutdown(Socket::shutdown_send, ignored);
}

awaitable<void> read_all(Socket& socket, std::string& out) {
    std::vector<char> chunk(65536);
    for (;;) {
        auto [ec, n] = co_await socket.async_read_some(asio::buffer(chunk), nothrow);
        out.append(chunk.data(), n);
        if (ec) {
            co_return;
        }
    }
}

struct Outcome {
    error_code ec;
    size_t written = 0;
    std::string received;
};

// Writes `parts` with write_plain to one end of a socket pair while the other end reads it
// all (or is closed first when `reader_gone`).
Outcome send_through_pair(const std::vector<std::string>& parts, bool reader_gone) {
    asio::io_context io;
    SocketPair pair(io);
    Outcome out;
    if (reader_gone) {
        pair.reader.close();
    } else {
        asio::co_spawn(io, read_all(pair.reader, out.received), asio::detached);
    }
    asio::co_spawn(io, write_all(pair.writer, parts, out.ec, out.written), asio::detached);
    io.run();
    return out;
}

TEST(WritePlain, SendsEverySmallWriteAtOnce) {
    std::vector<std::string> parts = {"Q", std::string(4, '\0'), "SELECT 1", ""};
    auto out = send_through_pair(parts, false);
    EXPECT_FALSE(out.ec);
    EXPECT_EQ(out.written, 13u);
    EXPECT_EQ(out.received, parts[0] + parts[1] + parts[2]);
}

TEST(WritePlain, FinishesThroughTheReactorWhenTheKernelBufferFills) {
    // Far more than a socket buffer holds, split at odd places, so that the kernel takes part
    // of a buffer and the rest must wait for the reader.
    std::vector<std::string> parts;
    std::string expected;
    for (int i = 0; i < 7; ++i) {
        parts.push_back(std::string(1000003 + i, static_cast<char>('a' + i)));
        expected += parts.back();
    }
    auto out = send_through_pair(parts, false);
    EXPECT_FALSE(out.ec);
    EXPECT_EQ(out.written, expected.size());
    EXPECT_EQ(out.received, expected);
}

TEST(WritePlain, ReportsAPeerThatIsGone) {
    std::signal(SIGPIPE, SIG_IGN);  // as storegate does; io_uring sends do not suppress it
    std::vector<std::string> parts = {"X", std::string(4, '\4')};
    auto out = send_through_pair(parts, true);
    EXPECT_TRUE(out.ec);
}

}  // namespace
}  // namespace storegate::proxy
