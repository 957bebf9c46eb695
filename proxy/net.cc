#include "proxy/net.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <span>
#include <vector>

namespace storegate::proxy {

std::optional<asio::ip::tcp::endpoint> parse_tcp_endpoint(const std::string& listen) {
    size_t colon = listen.rfind(':');
    if (colon == std::string::npos) {
        return std::nullopt;
    }
    std::string host = listen.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    error_code ec;
    auto address = asio::ip::make_address(host.empty() ? "0.0.0.0" : host, ec);
    int port = std::atoi(listen.c_str() + colon + 1);
    if (ec || port < 0 || port > 65535) {
        return std::nullopt;
    }
    return asio::ip::tcp::endpoint(address, static_cast<uint16_t>(port));
}

std::string peer_name(const Socket& socket) {
    error_code ec;
    auto ep = socket.remote_endpoint(ec);
    if (ec) {
        return "unknown";
    }
    const sockaddr* sa = reinterpret_cast<const sockaddr*>(ep.data());
    char text[INET6_ADDRSTRLEN] = {0};
    if (sa->sa_family == AF_INET) {
        auto* in = reinterpret_cast<const sockaddr_in*>(sa);
        inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
        return std::string(text) + ":" + std::to_string(ntohs(in->sin_port));
    }
    if (sa->sa_family == AF_INET6) {
        auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
        inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
        return "[" + std::string(text) + "]:" + std::to_string(ntohs(in6->sin6_port));
    }
    return "unix";
}

void set_nodelay(Socket& socket) {
    int one = 1;
    auto ep = socket.local_endpoint();
    if (ep.data()->sa_family == AF_INET || ep.data()->sa_family == AF_INET6) {
        ::setsockopt(socket.native_handle(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
}

void set_keepalive(Socket& socket) {
    int one = 1;
    ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
}

size_t send_now(Socket& socket, const asio::const_buffer* buffers, size_t count, error_code& ec) {
    constexpr size_t kMaxIov = 64;
    size_t total = 0;
    size_t next = 0;
    while (next < count) {
        iovec iov[kMaxIov];
        size_t n = 0;
        size_t want = 0;
        for (; n < kMaxIov && next + n < count; ++n) {
            iov[n].iov_base = const_cast<void*>(buffers[next + n].data());
            iov[n].iov_len = buffers[next + n].size();
            want += iov[n].iov_len;
        }
        msghdr msg{};
        msg.msg_iov = iov;
        msg.msg_iovlen = n;
        ssize_t sent = ::sendmsg(socket.native_handle(), &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (sent < 0) {
            ec = errno == EAGAIN || errno == EWOULDBLOCK
                     ? error_code(asio::error::would_block)
                     : error_code(errno, asio::error::get_system_category());
            return total;
        }
        total += static_cast<size_t>(sent);
        if (static_cast<size_t>(sent) < want) {
            ec = asio::error::would_block;  // the send buffer is full: Asio waits for room
            return total;
        }
        next += n;
    }
    ec = {};
    return total;
}

awaitable<std::tuple<error_code, size_t>> write_plain(Socket& socket,
                                                      const asio::const_buffer* buffers,
                                                      size_t count) {
    size_t sent = 0;
    if constexpr (kInlineIo) {
        error_code ec;
        sent = send_now(socket, buffers, count, ec);
        if (ec != asio::error::would_block) {
            co_return std::tuple<error_code, size_t>(ec, sent);
        }
    }
    if (sent == 0) {
        std::span<const asio::const_buffer> all(buffers, count);
        co_return co_await asio::async_write(socket, all, nothrow);
    }
    // What the kernel did not take at once: the buffers from the first unsent byte on.
    std::vector<asio::const_buffer> rest;
    size_t skip = sent;
    for (size_t i = 0; i < count; ++i) {
        size_t size = buffers[i].size();
        if (skip >= size) {
            skip -= size;
            continue;
        }
        rest.push_back(buffers[i] + skip);
        skip = 0;
    }
    auto [ec, n] = co_await asio::async_write(socket, rest, nothrow);
    co_return std::tuple<error_code, size_t>(ec, sent + n);
}

void Watchdog::arm(std::chrono::milliseconds timeout) {
    state_->socket = socket_;
    timer_.expires_after(timeout);
    timer_.async_wait([state = state_](error_code ec) {
        if (!ec && state->socket != nullptr) {
            state->fired = true;
            error_code ignored;
            state->socket->close(ignored);
        }
    });
}

void Watchdog::disarm() {
    state_->socket = nullptr;
    timer_.cancel();
}

}  // namespace storegate::proxy
