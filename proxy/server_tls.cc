// TLS towards a backend: the SSLRequest exchange of the protocol docs ("SSL Session
// Encryption") with libpq's sslmode meanings, before the StartupMessage is sent.
#include "protocol/wire.h"
#include "proxy/server_conn.h"

namespace storegate::proxy {

static constexpr int32_t kSslRequestCode = 80877103;

awaitable<bool> ServerConn::negotiate_tls(const ConnectSettings& settings,
                                          protocol::ErrorFields& error) {
    const auto& b = *backend_;
    const std::string& mode = b.sslmode.empty() ? settings.default_sslmode : b.sslmode;
    bool unix_socket = !b.host.empty() && b.host.front() == '/';
    // "allow" means plain first, and a Unix socket carries no TLS: neither asks for it.
    // Limitation: sslmode allow never retries with TLS after a plain refusal - matters only
    // for backends that accept TLS connections only and are configured with allow.
    if (mode.empty() || mode == "disable" || mode == "allow" || unix_socket) {
        co_return true;
    }
    std::string request;
    protocol::wire::put_i32(request, 8);
    protocol::wire::put_i32(request, kSslRequestCode);
    char answer = 0;
    auto [wec, wn] = co_await asio::async_write(socket_, asio::buffer(request), nothrow);
    auto [rec, rn] = wec ? std::tuple<error_code, size_t>{wec, 0}
                         : co_await asio::async_read(socket_, asio::buffer(&answer, 1), nothrow);
    if (wec || rec) {
        fail(error, "could not connect to server for db_key \"" + b.db_key +
                        "\": " + (wec ? wec : rec).message());
        co_return false;
    }
    if (answer == 'N' && mode == "prefer") {
        co_return true;
    }
    if (answer != 'S') {
        fail(error,
             "server for db_key \"" + b.db_key + "\" does not support TLS (sslmode " + mode + ")");
        co_return false;
    }
    bool verify = mode == "verify-ca" || mode == "verify-full";
    auto context = verify ? settings.tls.verified : settings.tls.unverified;
    if (!context) {
        fail(error, "no TLS context for db_key \"" + b.db_key + "\"");
        co_return false;
    }
    auto ec = co_await stream_.start_tls(context, b.host, mode == "verify-full");
    if (ec) {
        fail(error,
             "TLS handshake with server for db_key \"" + b.db_key + "\" failed: " + ec.message());
        co_return false;
    }
    co_return true;
}

}  // namespace storegate::proxy
