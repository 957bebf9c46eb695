// The proxy process: worker threads (one io_context each), listeners, the registry, signal
// handling and periodic maintenance. Owns everything sessions share.
#pragma once

#include <memory>
#include <thread>
#include <vector>

#include "config/config.h"
#include "proxy/quiesce_reporter.h"
#include "proxy/services.h"

namespace storegate::proxy {

class AdminHttp;

class Server {
  public:
    explicit Server(std::shared_ptr<const config::Config> config);
    ~Server();

    // Starts listeners and workers; blocks until shutdown. Returns the exit code.
    int run();

  private:
    bool load_registry();
    bool listen();
    awaitable<void> accept_loop(
        std::shared_ptr<asio::basic_socket_acceptor<asio::generic::stream_protocol>> acceptor,
        Worker& worker);
    awaitable<void> maintenance();
    void handle_signals();
    void reload();
    void shutdown(bool graceful);

    std::shared_ptr<const config::Config> config_;
    std::vector<std::unique_ptr<Worker>> workers_;
    // Before services_: destroyed after it, once the blocking pool (which may still complete
    // admin requests onto the listener's io_context) has been joined.
    std::unique_ptr<AdminHttp> admin_http_;
    std::unique_ptr<Services> services_;
    // After services_: stopped and joined before the store counts it reads go away.
    std::unique_ptr<QuiesceReporter> quiesce_;
    std::vector<std::shared_ptr<asio::basic_socket_acceptor<asio::generic::stream_protocol>>>
        acceptors_;
    std::unique_ptr<asio::signal_set> signals_;
    std::vector<std::thread> threads_;
    std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards_;
    std::atomic<bool> stopping_{false};
};

// Builds the reloadable part of the runtime (config + users file + authenticator); on failure
// fills `errors` and returns null.
std::shared_ptr<const Runtime> make_runtime(std::shared_ptr<const config::Config> config,
                                            std::vector<std::string>& errors);

}  // namespace storegate::proxy
