// Asio vocabulary shared by the proxy: sockets are generic stream sockets so one type serves
// TCP and Unix-domain peers; awaited operations report errors as values, never throw.
#pragma once

#include <boost/asio.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace storegate::proxy {

namespace asio = boost::asio;
using error_code = boost::system::error_code;
using Socket = asio::generic::stream_protocol::socket;
using Clock = std::chrono::steady_clock;
template <typename T = void>
using awaitable = asio::awaitable<T>;

inline constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

// "ip:port" or "unix:path" of a connected peer, for logs.
std::string peer_name(const Socket& socket);
void set_nodelay(Socket& socket);
void set_keepalive(Socket& socket);
// "host:port" ("[::1]:port" for IPv6; an empty host means every IPv4 address) as a TCP
// endpoint; nothing when the host is not an IP literal or the port is out of range.
std::optional<asio::ip::tcp::endpoint> parse_tcp_endpoint(const std::string& listen);

// Closes the socket if it is still open when the timer fires; cancelled by disarm().
// Used for deadlines that span several awaited steps (startup, connect + login).
class Watchdog {
  public:
    Watchdog(asio::any_io_executor ex, Socket& socket)
        : timer_(ex), socket_(&socket), state_(std::make_shared<State>(State{nullptr, false})) {}
    ~Watchdog() { disarm(); }
    Watchdog(const Watchdog&) = delete;
    Watchdog& operator=(const Watchdog&) = delete;

    void arm(std::chrono::milliseconds timeout);
    void disarm();
    bool fired() const { return state_->fired; }

  private:
    struct State {
        Socket* socket;  // null once disarmed: a handler already queued must not touch it
        bool fired;
    };
    asio::steady_timer timer_;
    Socket* socket_;
    std::shared_ptr<State> state_;
};

}  // namespace storegate::proxy
