// The admin HTTP listener (admin.listen): Boost.Beast on an io_context and a thread of its own,
// so scrapes and admin requests never delay client traffic on the workers, and the admin API
// answers (/healthz, /readyz = 503) while the registry is still loading.
// Limits: 64 KiB of headers, 1 MiB of body, 30 s per request, keep-alive.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "config/config.h"

#include "proxy/admin_api.h"
#include "proxy/net.h"

namespace storegate::proxy {

class Services;

class AdminHttp {
  public:
    explicit AdminHttp(Services& services) : api_(services) {}
    ~AdminHttp();
    AdminHttp(const AdminHttp&) = delete;
    AdminHttp& operator=(const AdminHttp&) = delete;

    // Binds `listen` (host:port, an IP literal) and starts serving; false with `error` when
    // the address cannot be used.
    bool start(const std::string& listen, std::string& error);
    // Closes the listener and every admin connection, and joins the thread.
    void stop();

  private:
    using Acceptor = asio::ip::tcp::acceptor;

    awaitable<void> accept_loop();
    awaitable<void> serve(asio::ip::tcp::socket socket);

    AdminApi api_;
    asio::io_context io_{1};
    std::unique_ptr<Acceptor> acceptor_;
    std::thread thread_;
};

// Takes the admin settings of `config`, wires reloads (run on `reload_executor`, returning
// whether the new configuration was applied) and starts the listener. Null, logged, when the
// listener cannot start.
std::unique_ptr<AdminHttp> start_admin(Services& services, const config::Config& config,
                                       asio::any_io_executor reload_executor,
                                       std::function<bool()> reload);

}  // namespace storegate::proxy
