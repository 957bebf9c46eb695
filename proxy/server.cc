#include "proxy/server.h"

#include <openssl/rand.h>
#include <sys/resource.h>
#include <unistd.h>

#include <iostream>

#include "common/log.h"
#include "proxy/admin_http.h"
#include "proxy/session.h"
#include "registry/file_registry.h"
#include "registry/pg_registry.h"
#include "registry/watcher.h"

namespace storegate::proxy {

using Acceptor = asio::basic_socket_acceptor<asio::generic::stream_protocol>;

std::shared_ptr<const Runtime> make_runtime(std::shared_ptr<const config::Config> config,
                                            std::vector<std::string>& errors) {
    auto runtime = std::make_shared<Runtime>();
    auto users = std::make_shared<UsersFile>();
    if (!config->auth.users_file.empty()) {
        auto loaded = users->load(config->auth.users_file);
        if (!loaded.ok) {
            errors.insert(errors.end(), loaded.errors.begin(), loaded.errors.end());
            return nullptr;
        }
    }
    std::string tls_error;
    runtime->client_tls = make_client_tls(config->tls, tls_error);
    runtime->backend_tls = make_backend_tls(config->tls, tls_error);
    if (!tls_error.empty()) {
        errors.push_back(tls_error);
        return nullptr;
    }
    runtime->config = config;
    runtime->users = users;
    runtime->auth = std::make_shared<ClientAuthenticator>(config->auth.type, users.get(),
                                                          config->server.max_message_size);
    if (!config->auth.auth_query.empty()) {
        runtime->auth->set_auth_query(
            std::make_shared<AuthQuery>(config->registry.dsn, config->auth.auth_query));
    }
    return runtime;
}

static int worker_count(const config::Config& config) {
    if (config.server.threads > 0) {
        return config.server.threads;
    }
    return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

// Lets the process hold as many descriptors as the hard limit allows: each client and each
// server connection is one.
static void raise_descriptor_limit() {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
}

Server::Server(std::shared_ptr<const config::Config> config) : config_(std::move(config)) {}

Server::~Server() {
    if (admin_http_) {
        admin_http_->stop();
    }
    for (auto& t : threads_) {
        if (t.joinable()) {
            t.join();
        }
    }
    // Sessions still open at exit live in handlers queued on the workers' io_contexts and
    // use the services: destroy them first, once no blocking job can post to them any more.
    // The I/O objects held here and in the pools go before the io_contexts they belong to.
    if (services_) {
        services_->blocking.join();
        for (const auto& pool : services_->pools.all()) {
            pool->shut_down();
        }
    }
    signals_.reset();
    acceptors_.clear();
    guards_.clear();
    workers_.clear();
}

bool Server::load_registry() {
    if (!config_->registry.file.empty()) {
        auto loaded = registry::load_file(config_->registry.file);
        if (!loaded.errors.empty()) {
            for (const auto& e : loaded.errors) {
                log::error("registry file invalid error=\"{}\"", e);
            }
            return false;
        }
        services_->routing.replace(loaded.snapshot);
        log::info("registry loaded source=file stores={}", services_->routing.store_count());
        return true;
    }
    registry::WatcherOptions options;
    options.dsn = config_->registry.dsn;
    options.refresh_interval = config_->registry.refresh_interval;
    options.negative_cache_ttl = config_->registry.negative_cache_ttl;
    options.instance_id = services_->instance_id;
    options.address = config_->server.listen;
    options.admin_address = config_->admin.listen;
    services_->watcher = std::make_unique<registry::Watcher>(services_->routing, options);
    services_->watcher->start();
    QuiesceOptions quiesce{config_->registry.dsn, services_->instance_id,
                           services_->cancels.instance_tag()};
    quiesce_ = std::make_unique<QuiesceReporter>(services_->store_control, services_->metrics,
                                                 std::move(quiesce));
    quiesce_->start();
    // Start serving even when the registry is down: clients of stores it has not seen get
    // 3D000 until it answers, and /readyz says not ready meanwhile.
    if (!services_->watcher->wait_loaded(std::chrono::seconds(10))) {
        log::warn("registry not loaded yet dsn=\"{}\"; serving while it retries",
                  registry::redact_dsn(config_->registry.dsn));
        return true;
    }
    log::info("registry loaded source=postgresql stores={} version={}",
              services_->routing.store_count(), services_->watcher->applied_version());
    return true;
}

static std::optional<asio::generic::stream_protocol::endpoint> parse_listen(
    const std::string& listen) {
    auto ep = parse_tcp_endpoint(listen);
    if (!ep) {
        return std::nullopt;
    }
    return asio::generic::stream_protocol::endpoint(ep->data(), ep->size());
}

bool Server::listen() {
    auto endpoint = parse_listen(config_->server.listen);
    if (!endpoint) {
        log::error("listen address invalid listen={}", config_->server.listen);
        return false;
    }
    // One acceptor per worker on the same port (SO_REUSEPORT): the kernel spreads new clients
    // over the workers without a hand-off between threads.
    for (auto& worker : workers_) {
        auto acceptor = std::make_shared<Acceptor>(worker->io);
        error_code ec;
        acceptor->open(endpoint->protocol(), ec);
        int one = 1;
        if (!ec) {
            ::setsockopt(acceptor->native_handle(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
            ::setsockopt(acceptor->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
            acceptor->bind(*endpoint, ec);
        }
        if (!ec) {
            acceptor->listen(asio::socket_base::max_listen_connections, ec);
        }
        if (ec) {
            log::error("listen failed listen={} error=\"{}\"", config_->server.listen,
                       ec.message());
            return false;
        }
        acceptors_.push_back(acceptor);
        asio::co_spawn(worker->io, accept_loop(acceptor, *worker), asio::detached);
    }
    log::info("listening listen={} threads={}", config_->server.listen, workers_.size());
    return true;
}

awaitable<void> Server::accept_loop(std::shared_ptr<Acceptor> acceptor, Worker& worker) {
    for (;;) {
        auto [ec, socket] = co_await acceptor->async_accept(nothrow);
        if (ec == asio::error::operation_aborted || !acceptor->is_open()) {
            co_return;
        }
        if (ec) {
            // Out of descriptors or a transient error: pause briefly instead of spinning.
            log::warn("accept failed error=\"{}\"", ec.message());
            asio::steady_timer pause(worker.io, std::chrono::milliseconds(50));
            co_await pause.async_wait(nothrow);
            continue;
        }
        set_nodelay(socket);
        auto session = std::make_shared<Session>(*services_, worker, std::move(socket));
        asio::co_spawn(worker.io, session->run(), asio::detached);
    }
}

awaitable<void> Server::maintenance() {
    asio::steady_timer timer(workers_.front()->io);
    auto last_refresh = Clock::now();
    while (!stopping_) {
        timer.expires_after(std::chrono::seconds(1));
        co_await timer.async_wait(nothrow);
        auto runtime = services_->runtime();
        services_->pools.maintain(*runtime->config);
        (void)last_refresh;
    }
}

void Server::reload() {
    auto loaded = config::load(config_->path);
    if (!loaded.errors.empty()) {
        for (const auto& e : loaded.errors) {
            log::error("reload rejected error=\"{}\"", e.to_string(config_->path));
        }
        services_->admin.reloaded(nullptr);
        return;
    }
    auto config = std::make_shared<const config::Config>(std::move(*loaded.config));
    std::vector<std::string> errors;
    auto runtime = make_runtime(config, errors);
    if (!runtime) {
        for (const auto& e : errors) {
            log::error("reload rejected error=\"{}\"", e);
        }
        services_->admin.reloaded(nullptr);
        return;
    }
    for (const auto& key : config::restart_required(*config_, *config)) {
        log::warn("reload keeps the running value key={} reason=needs_restart", key);
    }
    log::set_level(config->log.level);
    services_->set_runtime(runtime);
    services_->pools.apply(*config);
    config_ = config;
    services_->admin.reloaded(config_.get());
    log::info("configuration reloaded path={}", config_->path);
}

void Server::shutdown(bool graceful) {
    if (stopping_.exchange(true) && graceful) {
        return;
    }
    log::info("shutting down graceful={}", graceful);
    services_->admin.set_ready(false);
    for (auto& acceptor : acceptors_) {
        asio::post(acceptor->get_executor(), [acceptor] {
            error_code ignored;
            acceptor->close(ignored);
        });
    }
    guards_.clear();
    if (!graceful) {
        for (auto& w : workers_) {
            w->io.stop();
        }
        return;
    }
    auto deadline = Clock::now() + config_->server.shutdown_timeout;
    asio::co_spawn(
        workers_.front()->io,
        [this, deadline]() -> awaitable<void> {
            asio::steady_timer timer(workers_.front()->io);
            for (;;) {
                int clients = 0;
                for (auto& w : workers_) {
                    clients += w->clients.load();
                }
                if (clients == 0 || Clock::now() >= deadline) {
                    break;
                }
                timer.expires_after(std::chrono::milliseconds(100));
                co_await timer.async_wait(nothrow);
            }
            for (auto& w : workers_) {
                w->io.stop();
            }
        },
        asio::detached);
}

void Server::handle_signals() {
    signals_->async_wait([this](error_code ec, int signo) {
        if (ec) {
            return;
        }
        if (signo == SIGHUP) {
            reload();
        } else {
            shutdown(signo == SIGTERM);
        }
        handle_signals();
    });
}

int Server::run() {
    std::vector<std::string> errors;
    auto runtime = make_runtime(config_, errors);
    if (!runtime) {
        for (const auto& e : errors) {
            std::cerr << "storegate: " << e << "\n";
        }
        return 1;
    }
    raise_descriptor_limit();
    int n = worker_count(*config_);
    for (int i = 0; i < n; ++i) {
        workers_.push_back(std::make_unique<Worker>(i));
        guards_.emplace_back(workers_.back()->io.get_executor());
    }
    uint8_t tag = 0;
    RAND_bytes(&tag, 1);
    services_ = std::make_unique<Services>(runtime, n, static_cast<uint8_t>(tag & 0x7f));
    services_->instance_id = config_->server.instance_id;
    if (services_->instance_id.empty()) {
        char host[256] = {0};
        gethostname(host, sizeof(host) - 1);
        services_->instance_id =
            std::string(host) + ":" + std::to_string(getpid()) + ":" + config_->server.listen;
    }
    admin_http_ = start_admin(*services_, *config_, workers_.front()->io.get_executor(), [this] {
        auto before = config_;
        reload();
        return config_ != before;
    });
    if (!admin_http_ || !load_registry() || !listen()) {
        return 1;
    }
    services_->admin.started();
    signals_ = std::make_unique<asio::signal_set>(workers_.front()->io, SIGTERM, SIGINT, SIGHUP);
    handle_signals();
    asio::co_spawn(workers_.front()->io, maintenance(), asio::detached);
    for (int i = 1; i < n; ++i) {
        threads_.emplace_back([w = workers_[static_cast<size_t>(i)].get()] { w->io.run(); });
    }
    workers_.front()->io.run();
    for (auto& t : threads_) {
        t.join();
    }
    threads_.clear();
    log::info("stopped");
    return 0;
}

}  // namespace storegate::proxy
