#include "proxy/client_tls.h"

#include "common/log.h"

namespace storegate::proxy {

static constexpr uint8_t kTlsHandshakeRecord = 0x16;

static bool tls_offered(const std::shared_ptr<ssl::context>& context, config::TlsClientMode mode) {
    return context != nullptr && mode != config::TlsClientMode::kDisable;
}

awaitable<TlsOpening> accept_direct_tls(ClientStream& client, std::shared_ptr<ssl::context> context,
                                        config::TlsClientMode mode) {
    if (!tls_offered(context, mode)) {
        co_return TlsOpening::kPlain;
    }
    auto& socket = client.socket();
    auto [wait_ec] = co_await socket.async_wait(Socket::wait_read, nothrow);
    if (wait_ec) {
        co_return TlsOpening::kFailed;
    }
    uint8_t first = 0;
    error_code ec;
    size_t n = socket.receive(asio::buffer(&first, 1), Socket::message_peek, ec);
    if (ec || n == 0) {
        co_return TlsOpening::kFailed;
    }
    if (first != kTlsHandshakeRecord) {
        co_return TlsOpening::kPlain;
    }
    auto hs = co_await client.start_tls(std::move(context));
    if (hs) {
        log::debug("direct tls handshake failed error=\"{}\"", hs.message());
        co_return TlsOpening::kFailed;
    }
    // Direct TLS without ALPN could be a client speaking another protocol over TLS; PostgreSQL
    // refuses it too.
    if (!negotiated_postgresql(client.tls_handle())) {
        co_return TlsOpening::kFailed;
    }
    co_return TlsOpening::kEncrypted;
}

awaitable<TlsOpening> answer_ssl_request(ClientStream& client,
                                         std::shared_ptr<ssl::context> context,
                                         config::TlsClientMode mode, bool buffered) {
    if (buffered) {
        co_return TlsOpening::kFailed;
    }
    bool offer = tls_offered(context, mode) && !client.encrypted();
    const char answer = offer ? 'S' : 'N';
    auto [ec, n] = co_await client.write(asio::buffer(&answer, 1));
    if (ec) {
        co_return TlsOpening::kFailed;
    }
    if (!offer) {
        co_return TlsOpening::kPlain;
    }
    auto hs = co_await client.start_tls(std::move(context));
    if (hs) {
        log::debug("tls handshake failed error=\"{}\"", hs.message());
        co_return TlsOpening::kFailed;
    }
    co_return TlsOpening::kEncrypted;
}

std::string client_server_name(ClientStream& client) {
    SSL* ssl = client.tls_handle();
    return ssl != nullptr ? requested_server_name(ssl) : std::string();
}

}  // namespace storegate::proxy
