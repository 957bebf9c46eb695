// Keeps a RoutingTable in step with the PostgreSQL registry. One thread of its own:
//   connect -> LISTEN storegate_registry -> load the whole snapshot -> apply each NOTIFY by
//   re-reading only the row it names -> full resync every refresh_interval.
// LISTEN comes before the snapshot so no change falls between the two; a notification whose
// version the snapshot already includes is skipped. On connection loss the table keeps routing
// from its last state while the thread reconnects with exponential backoff, then reloads.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "registry/routing_table.h"

namespace storegate::registry {

class PgConn;

// The channel instances notify (payload: the instance id) right after they confirm a change in
// storegate_instances.applied_version or report a store quiesced, so that a command waiting
// for the fleet can LISTEN instead of polling.
inline constexpr const char* kFleetChannel = "storegate_fleet";

struct WatcherOptions {
    std::string dsn;
    std::chrono::milliseconds refresh_interval{30000};
    std::chrono::milliseconds negative_cache_ttl{2000};
    std::chrono::milliseconds min_backoff{100};
    std::chrono::milliseconds max_backoff{5000};
    // How long the connection may stay silent before a cheap query checks that it is alive.
    std::chrono::milliseconds liveness_interval{1000};
    // When set, the watcher keeps this instance's row in storegate_instances up to date:
    // applied_version (with a notification on kFleetChannel) as soon as it has applied a batch
    // of changes, heartbeat_at each liveness check.
    std::string instance_id;
    std::string address;
    std::string admin_address;
};

class Watcher {
  public:
    Watcher(RoutingTable& table, WatcherOptions options);
    ~Watcher();  // stop()
    Watcher(const Watcher&) = delete;
    Watcher& operator=(const Watcher&) = delete;

    // Starts the thread. Returns at once; see wait_loaded().
    void start();
    // Ends the thread and closes its connections; safe to call twice. With an instance_id the
    // instance first deletes its storegate_instances row, so call it once no session is left.
    void stop();
    // Waits until the first snapshot is in the table; false on timeout or stop.
    bool wait_loaded(std::chrono::milliseconds timeout);

    bool connected() const { return connected_.load(); }
    // Registry version of the latest change applied to the table.
    uint64_t applied_version() const { return applied_version_.load(); }
    // Time since the table was last known to match the registry: a load, an applied change or
    // a liveness check. Grows while the registry is unreachable.
    std::chrono::milliseconds last_update_age() const;

    // For a key (uuid or slug) not in the table: a fresh single-row query on a connection of its
    // own, adding the store (and its backend) to the table when found. Misses are remembered
    // for negative_cache_ttl so unknown keys cost the registry nothing when clients repeat them.
    // Blocking (bounded by the connect timeout): call it off the event loop.
    std::optional<Route> lookup_store_now(std::string_view key);

    // Counters for metrics.
    uint64_t reconnects() const { return reconnects_.load(); }
    uint64_t full_loads() const { return full_loads_.load(); }
    uint64_t rows_applied() const { return rows_applied_.load(); }

  private:
    void run();
    void session(PgConn& conn);
    bool load_all(const PgConn& conn);
    // Applies every queued notification; returns how many, or -1 when the connection failed.
    int drain_notifications(const PgConn& conn);
    bool apply(const PgConn& conn, std::string_view payload);
    bool reread(const PgConn& conn, std::string_view table, const std::string& key);
    bool check_liveness(const PgConn& conn);
    // Upserts this instance's row; `announce` also notifies kFleetChannel. False when the
    // connection failed.
    bool heartbeat(const PgConn& conn, bool announce);
    // On stop: deletes this instance's row (and with it its quiesce reports).
    void leave_fleet(const PgConn& conn);
    // Sleeps up to `duration` or until stop(); returns false when stopping.
    bool sleep_for(std::chrono::milliseconds duration);
    // Waits for the socket to be readable, up to `timeout`; false when stopping.
    bool wait_readable(int fd, std::chrono::milliseconds timeout);
    void touch();
    bool negative_hit(const std::string& key);
    void remember_miss(const std::string& key);
    void clear_misses();
    std::optional<Store> query_store(const std::string& key);

    RoutingTable& table_;
    WatcherOptions options_;
    std::thread thread_;
    int wake_fd_ = -1;  // eventfd that interrupts the thread's waits
    std::atomic<bool> stopping_{false};
    std::atomic<bool> connected_{false};
    std::atomic<uint64_t> applied_version_{0};
    std::atomic<int64_t> last_update_ns_{0};
    std::atomic<uint64_t> reconnects_{0};
    std::atomic<uint64_t> full_loads_{0};
    std::atomic<uint64_t> rows_applied_{0};
    // Owned by the thread: the last snapshot's version and time.
    uint64_t loaded_version_ = 0;
    std::chrono::steady_clock::time_point last_full_load_;

    std::mutex loaded_mutex_;
    std::condition_variable loaded_cv_;
    bool loaded_ = false;

    std::mutex lookup_mutex_;  // one lookup query at a time, on lookup_conn_
    std::unique_ptr<PgConn> lookup_conn_;
    std::mutex misses_mutex_;  // never held during I/O
    std::unordered_map<std::string, std::chrono::steady_clock::time_point> misses_;
};

}  // namespace storegate::registry
