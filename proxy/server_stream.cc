#include "proxy/server_stream.h"

#include <openssl/x509v3.h>

namespace storegate::proxy {

static bool is_ip_literal(const std::string& host) {
    error_code ec;
    asio::ip::make_address(host, ec);
    return !ec;
}

awaitable<error_code> ServerStream::start_tls(std::shared_ptr<ssl::context> context,
                                              const std::string& host, bool check_host) {
    wrap(std::move(context));
    SSL* ssl = tls_->native_handle();
    bool ip = is_ip_literal(host);
    if (!ip && !host.empty()) {
        SSL_set_tlsext_host_name(ssl, host.c_str());
    }
    if (check_host) {
        X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
        int set = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())
                     : X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
        if (set != 1) {
            co_return asio::error::invalid_argument;
        }
    }
    auto [ec] = co_await tls_->async_handshake(ssl::stream_base::client, nothrow);
    co_return ec;
}

void ServerStream::rebind(asio::any_io_executor ex,
                          const asio::generic::stream_protocol& protocol) {
    if (socket_.get_executor() == ex || !socket_.is_open()) {
        return;
    }
    // The asio TLS layer keeps timers bound to the old executor: rebuild it around the same
    // OpenSSL connection, which it takes over (hence the extra reference).
    SSL* ssl = nullptr;
    if (tls_) {
        ssl = tls_->native_handle();
        SSL_up_ref(ssl);
        tls_.reset();
    }
    error_code ec;
    int fd = socket_.release(ec);
    socket_ = ec ? Socket(ex) : Socket(ex, protocol, fd);
    if (ssl != nullptr) {
        tls_ = std::make_unique<ssl::stream<Socket&>>(socket_, ssl);
    }
}

}  // namespace storegate::proxy
