// What every session shares: the current configuration and credentials (swapped whole on
// reload), the routing table, the pools and the cancel keys. Thread-safe.
#pragma once

#include <atomic>
#include <memory>

#include "config/config.h"
#include "proxy/cancel_registry.h"
#include "proxy/client_auth.h"
#include "proxy/metrics.h"
#include "proxy/pool_manager.h"
#include "proxy/session_registry.h"
#include "proxy/users_file.h"
#include "registry/routing_table.h"

namespace storegate::proxy {

// Everything that a reload replaces at once. A session keeps the one it started with.
struct Runtime {
    std::shared_ptr<const config::Config> config;
    std::shared_ptr<const UsersFile> users;
    std::shared_ptr<ClientAuthenticator> auth;
};

struct Worker {
    explicit Worker(int i) : index(i) {}
    int index;
    asio::io_context io;
    std::atomic<int> clients{0};
};

class Services {
  public:
    Services(std::shared_ptr<const Runtime> runtime, int workers, uint8_t instance_tag);

    std::shared_ptr<const Runtime> runtime() const { return runtime_.load(); }
    void set_runtime(std::shared_ptr<const Runtime> runtime) { runtime_.store(std::move(runtime)); }
    uint64_t next_session_id() { return next_session_id_.fetch_add(1, std::memory_order_relaxed); }

    registry::RoutingTable routing;
    PoolManager pools;
    CancelRegistry cancels;
    SessionRegistry sessions;
    Metrics metrics{routing, pools, sessions};

  private:
    std::atomic<std::shared_ptr<const Runtime>> runtime_;
    std::atomic<uint64_t> next_session_id_{1};
};

}  // namespace storegate::proxy
