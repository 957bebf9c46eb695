#include "proxy/net.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>

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
