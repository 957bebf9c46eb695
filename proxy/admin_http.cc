#include "proxy/admin_http.h"

#include <boost/beast/core.hpp>

#include "common/log.h"
#include "proxy/services.h"

namespace storegate::proxy {

namespace beast = boost::beast;
using tcp = asio::ip::tcp;

namespace {

constexpr uint32_t kHeaderLimit = 64 * 1024;
constexpr uint64_t kBodyLimit = 1 << 20;
constexpr auto kRequestTimeout = std::chrono::seconds(30);

// The answer to a request that could not be read: too large, or not HTTP.
HttpResponse unreadable(const error_code& ec) {
    bool too_large = ec == http::error::body_limit || ec == http::error::header_limit;
    HttpResponse response{too_large ? http::status::payload_too_large : http::status::bad_request,
                          11};
    response.set(http::field::content_type, "application/json");
    response.body() = too_large ? "{\"error\":\"request too large\"}\n"
                                : "{\"error\":\"malformed HTTP request\"}\n";
    response.keep_alive(false);
    response.prepare_payload();
    return response;
}

}  // namespace

AdminHttp::~AdminHttp() {
    stop();
}

bool AdminHttp::start(const std::string& listen, std::string& error) {
    auto endpoint = parse_tcp_endpoint(listen);
    if (!endpoint) {
        error = "invalid admin.listen \"" + listen + "\"";
        return false;
    }
    auto acceptor = std::make_unique<Acceptor>(io_);
    error_code ec;
    acceptor->open(endpoint->protocol(), ec);
    if (!ec) {
        acceptor->set_option(asio::socket_base::reuse_address(true), ec);
        acceptor->bind(*endpoint, ec);
    }
    if (!ec) {
        acceptor->listen(asio::socket_base::max_listen_connections, ec);
    }
    if (ec) {
        error = "cannot listen on " + listen + ": " + ec.message();
        return false;
    }
    acceptor_ = std::move(acceptor);
    asio::co_spawn(io_, accept_loop(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
    log::info("admin listening listen={}", listen);
    return true;
}

void AdminHttp::stop() {
    if (!thread_.joinable()) {
        return;
    }
    io_.stop();
    thread_.join();
    if (acceptor_) {
        error_code ignored;
        acceptor_->close(ignored);
    }
}

awaitable<void> AdminHttp::accept_loop() {
    for (;;) {
        auto [ec, socket] = co_await acceptor_->async_accept(nothrow);
        if (ec == asio::error::operation_aborted || !acceptor_->is_open()) {
            co_return;
        }
        if (ec) {
            log::warn("admin accept failed error=\"{}\"", ec.message());
            asio::steady_timer pause(io_, std::chrono::milliseconds(50));
            co_await pause.async_wait(nothrow);
            continue;
        }
        asio::co_spawn(io_, serve(std::move(socket)), asio::detached);
    }
}

awaitable<void> AdminHttp::serve(tcp::socket socket) {
    error_code ignored;
    auto remote = socket.remote_endpoint(ignored);
    std::string peer = remote.address().to_string() + ":" + std::to_string(remote.port());
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    for (;;) {
        http::request_parser<http::string_body> parser;
        parser.header_limit(kHeaderLimit);
        parser.body_limit(kBodyLimit);
        stream.expires_after(kRequestTimeout);
        auto [ec, n] = co_await http::async_read(stream, buffer, parser, nothrow);
        if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
            ec == asio::error::operation_aborted || ec == asio::error::connection_reset) {
            break;
        }
        HttpResponse response;
        if (ec) {
            response = unreadable(ec);
            api_.count(static_cast<int>(response.result_int()));
        } else {
            HttpRequest request = parser.release();
            response = co_await api_.handle(request, peer);
        }
        stream.expires_after(kRequestTimeout);
        auto [wec, wn] = co_await http::async_write(stream, response, nothrow);
        if (wec || !response.keep_alive()) {
            break;
        }
    }
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

std::unique_ptr<AdminHttp> start_admin(Services& services, const config::Config& config,
                                       asio::any_io_executor reload_executor,
                                       std::function<bool()> reload) {
    services.admin.apply(config);
    services.admin.set_reload(std::move(reload_executor), std::move(reload));
    auto http = std::make_unique<AdminHttp>(services);
    std::string error;
    if (!http->start(config.admin.listen, error)) {
        log::error("admin listen failed error=\"{}\"", error);
        return nullptr;
    }
    return http;
}

}  // namespace storegate::proxy
