// What every session shares: the current configuration and credentials (swapped whole on
// reload), the routing table, the pools and the cancel keys. Thread-safe.
#pragma once

#include <atomic>
#include <memory>
#include <optional>

#include "config/config.h"
#include "proxy/admin_control.h"
#include "proxy/cancel_registry.h"
#include "proxy/client_auth.h"
#include "proxy/client_limits.h"
#include "proxy/metrics.h"
#include "proxy/pool_manager.h"
#include "proxy/session_registry.h"
#include "proxy/store_control.h"
#include "proxy/tls_context.h"
#include "proxy/users_file.h"
#include "registry/routing_table.h"
#include "registry/watcher.h"

namespace storegate::proxy {

// Everything that a reload replaces at once. A session keeps the one it started with.
struct Runtime {
    std::shared_ptr<const config::Config> config;
    std::shared_ptr<const UsersFile> users;
    std::shared_ptr<ClientAuthenticator> auth;
    std::shared_ptr<ssl::context> client_tls;  // null when [tls] has no certificate
    BackendTls backend_tls;
};

struct Worker {
    explicit Worker(int i) : index(i) {}
    int index;
    // Before io: sessions destroyed with the io_context's pending handlers still count down.
    std::atomic<int> clients{0};
    // Run by exactly one thread (concurrency hint 1): Asio then queues the completions made on
    // that thread in a thread-private queue, without the scheduler's lock, and does not look
    // for another thread to wake after each handler. Other threads may still post to it.
    asio::io_context io{1};
};

class Services {
  public:
    Services(std::shared_ptr<const Runtime> runtime, int workers, uint8_t instance_tag);

    std::shared_ptr<const Runtime> runtime() const { return runtime_.load(); }
    void set_runtime(std::shared_ptr<const Runtime> runtime) { runtime_.store(std::move(runtime)); }
    uint64_t next_session_id() { return next_session_id_.fetch_add(1, std::memory_order_relaxed); }

    registry::RoutingTable routing;
    // Live retargeting: per-store transactions in flight and the routing generation.
    StoreControl store_control{routing};
    PoolManager pools;
    CancelRegistry cancels;
    SessionRegistry sessions;
    ClientLimits limits;
    Metrics metrics{routing, pools, sessions};
    std::string instance_id;  // this process among the fleet (storegate_instances.id)
    // Set when the registry is PostgreSQL; null with a file registry.
    std::unique_ptr<registry::Watcher> watcher;
    // Threads for blocking control-plane work (libpq), so workers never block.
    asio::thread_pool blocking{2};
    // The admin actions (HTTP API and SQL console share them).
    AdminControl admin{*this};

    // Runs `fn` on the blocking pool and resumes the awaiting coroutine on its own executor
    // with the result. `fn` is a named object of the caller (it must outlive the await) and
    // must not touch the caller's session state.
    template <typename Fn>
    awaitable<decltype(std::declval<const Fn&>()())> run_blocking(const Fn& fn) {
        using Result = decltype(fn());
        auto ex = co_await asio::this_coro::executor;
        std::optional<Result> result;
        asio::steady_timer done(ex, asio::steady_timer::time_point::max());
        asio::post(blocking, [&fn, &result, &done, ex] {
            result.emplace(fn());
            asio::post(ex, [&done] { done.cancel(); });
        });
        co_await done.async_wait(nothrow);
        co_return std::move(*result);
    }

  private:
    std::atomic<std::shared_ptr<const Runtime>> runtime_;
    std::atomic<uint64_t> next_session_id_{1};
};

}  // namespace storegate::proxy
