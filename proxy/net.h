// Asio vocabulary shared by the proxy: sockets are generic stream sockets so one type serves
// TCP and Unix-domain peers; awaited operations report errors as values, never throw.
#pragma once

#include <boost/asio.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <tuple>

namespace storegate::proxy {

namespace asio = boost::asio;
using error_code = boost::system::error_code;
using Socket = asio::generic::stream_protocol::socket;
using Clock = std::chrono::steady_clock;
template <typename T = void>
using awaitable = asio::awaitable<T>;

inline constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

// Limitation: with epoll a read that has to wait costs one system call more than PgBouncer
// spends: Asio's reactor first tries the socket (a recv that finds nothing), and an
// async_wait, which does not try, re-arms the descriptor with epoll_ctl instead - matters for
// CPU per transaction under many short transactions (about two calls per transaction).

// With Asio's epoll reactor the relay sends straight from the coroutine: a write that
// completes at once otherwise still goes through the scheduler's queue, and the queue's next
// turn often costs an extra epoll_wait. With io_uring the kernel takes the operations in
// batches, and calls made here would only add system calls.
#if defined(BOOST_ASIO_HAS_IO_URING) && defined(BOOST_ASIO_DISABLE_EPOLL)
inline constexpr bool kInlineIo = false;
#else
inline constexpr bool kInlineIo = true;
#endif

// Non-blocking sends on the descriptor, bypassing the reactor, until all is sent or the kernel
// takes no more (`ec` is then would_block). Returns the bytes sent.
size_t send_now(Socket& socket, const asio::const_buffer* buffers, size_t count, error_code& ec);
// Writes all of `buffers` to a plain socket: straight away as far as the kernel takes them
// (kInlineIo), the rest through Asio. Returns the error and the bytes written.
awaitable<std::tuple<error_code, size_t>> write_plain(Socket& socket,
                                                      const asio::const_buffer* buffers,
                                                      size_t count);

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
