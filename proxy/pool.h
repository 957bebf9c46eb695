// Server connections of one db_key, shared by every worker thread. Idle connections are kept
// per thread and handed out to the same thread first, and a connection given back goes to a
// client waiting on the same thread first, so a session and its server connection normally
// share a thread; a connection moves to another thread only when that is the only way to serve
// a waiting client soon. The mutex is held only for list operations, never across I/O.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "protocol/errors.h"
#include "proxy/net.h"
#include "proxy/server_conn.h"

namespace storegate::proxy {

struct PoolSettings {
    int size = 20;
    std::chrono::milliseconds wait_timeout{5000};
    std::chrono::milliseconds idle_timeout{600000};
    std::chrono::milliseconds lifetime{3600000};
    ConnectSettings connect;
};

struct PoolStats {
    int total = 0;  // open or opening
    int idle = 0;
    int active = 0;      // checked out
    int waiting = 0;     // clients queued for a connection
    uint64_t waits = 0;  // checkouts that had to queue
    uint64_t timeouts = 0;
    uint64_t connects = 0;
    uint64_t connect_failures = 0;
};

struct Checkout {
    std::unique_ptr<ServerConn> conn;
    protocol::ErrorFields error;  // set when conn is null
};

class Pool : public std::enable_shared_from_this<Pool> {
  public:
    // Resolves the backend's password when a connection is opened (secrets may rotate).
    using PasswordSource =
        std::function<bool(const registry::Backend&, std::string& password, std::string& error)>;

    Pool(std::string db_key, int workers, PoolSettings settings, PasswordSource passwords);

    // Gets a connection for `backend` (the db_key's current row) on the caller's executor.
    // `worker` is the caller's worker index.
    awaitable<Checkout> acquire(int worker, std::shared_ptr<const registry::Backend> backend);
    // Returns a connection. `reusable` false closes it. Called on the connection's thread.
    void release(std::unique_ptr<ServerConn> conn, bool reusable, int worker);
    // Closes idle connections past their idle timeout or lifetime; called periodically.
    void sweep();
    // Closes every idle connection (backend row changed or pool evicted).
    void close_idle();
    // At process exit, before the workers' io_contexts go: closes the idle connections and
    // forgets the queued clients, whose sockets and timers belong to those io_contexts.
    void shut_down();
    void update_settings(const PoolSettings& settings);

    const std::string& db_key() const { return db_key_; }
    PoolStats stats() const;
    Clock::time_point last_used() const;
    // The idle server connections right now, for SHOW SERVERS and GET /v1/servers.
    struct IdleServer {
        uint64_t id = 0;
        int32_t backend_pid = 0;
        Clock::time_point created;
        Clock::time_point last_used;
    };
    std::vector<IdleServer> idle_servers() const;

  private:
    struct Waiter;
    enum class Grant { kNone, kConn, kSlot };

    std::unique_ptr<ServerConn> take_idle_locked(int worker, uint64_t generation,
                                                 std::vector<std::unique_ptr<ServerConn>>& stale);
    awaitable<Checkout> open(std::shared_ptr<const registry::Backend> backend);
    awaitable<Checkout> wait(std::shared_ptr<Waiter> waiter,
                             std::shared_ptr<const registry::Backend> backend);
    void give_slot_to_waiter_locked();
    // The waiter a released connection goes to: the first one on `worker`'s thread while the
    // longest waiter has waited only briefly, else the longest waiter.
    std::shared_ptr<Waiter> take_waiter_locked(int worker, Clock::time_point now);
    bool expired(const ServerConn& conn, Clock::time_point now) const;

    const std::string db_key_;
    PasswordSource passwords_;
    mutable std::mutex mutex_;
    PoolSettings settings_;
    std::vector<std::vector<std::unique_ptr<ServerConn>>> idle_;  // per worker, LIFO
    std::deque<std::shared_ptr<Waiter>> waiters_;
    PoolStats stats_;
    uint64_t generation_ = 0;  // newest backend row generation seen
    Clock::time_point last_used_;
};

}  // namespace storegate::proxy
