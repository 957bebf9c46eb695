// The Prometheus metrics of the proxy (README "Metrics"). Names carry the storegate_ prefix and
// base units; counters end in _total, durations are _seconds histograms.
//
// Two kinds of series:
// - counted as things happen, through handles resolved once: a session asks for its db_key's
//   DbKeyMetrics (and its store's StoreCounters) when it attaches and then only increments
//   through pointers, with no label lookup per transaction or query;
// - read when scraped, from the pools, the session registry and the routing table (server
//   connections, client states, pinning, registry state), so nothing on the data path keeps
//   gauges up to date.
// Label values are bounded: known reasons, sources and results, anything else as "other";
// stores beyond admin.store_metrics_limit as store="other".
// Thread-safe.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/pool_manager.h"
#include "proxy/session_registry.h"
#include "proxy/store_metrics.h"
#include "registry/routing_table.h"

namespace storegate::registry {
class Watcher;
}

namespace storegate::proxy {

// Series of one db_key. The pointers stay valid as long as the Metrics object.
struct DbKeyMetrics {
    std::string db_key;
    prometheus::Counter* transactions = nullptr;
    prometheus::Histogram* transaction_seconds = nullptr;
    prometheus::Counter* queries = nullptr;
    prometheus::Histogram* query_seconds = nullptr;
    prometheus::Histogram* pool_wait_seconds = nullptr;
    prometheus::Counter* bytes_received = nullptr;  // from clients
    prometheus::Counter* bytes_sent = nullptr;      // to clients
};

// Totals of one db_key for SHOW STATS (PgBouncer's total_* columns).
struct DbKeyTotals {
    std::string db_key;
    uint64_t transactions = 0;
    uint64_t queries = 0;
    uint64_t bytes_received = 0;
    uint64_t bytes_sent = 0;
    double transaction_seconds = 0;
    double query_seconds = 0;
    double wait_seconds = 0;
};

enum class PauseEvent { kPaused, kResumed, kWaitTimeout };
enum class DrainEvent { kDrained, kClosed };

// A counter family whose label takes a fixed set of values, looked up without allocating;
// any other value counts as "other".
class BoundedCounter {
  public:
    BoundedCounter(prometheus::Registry& registry, const std::string& name, const std::string& help,
                   const std::string& label, std::initializer_list<std::string_view> values);
    void add(std::string_view value, double n = 1);

  private:
    std::vector<std::pair<std::string, prometheus::Counter*>> counters_;
    prometheus::Counter* other_ = nullptr;
};

class Metrics {
  public:
    Metrics(const registry::RoutingTable& routing, PoolManager& pools,
            const SessionRegistry& sessions);
    ~Metrics();

    std::shared_ptr<const DbKeyMetrics> db_key(const std::string& db_key);
    std::shared_ptr<StoreCounters> store(const std::string& slug) { return stores_.get(slug); }
    std::vector<DbKeyTotals> totals() const;

    void client_connected() { client_connections_->Increment(); }
    // source: options, user, database, sni, default, or empty; result: ok, unknown, rejected.
    void routed(std::string_view source, std::string_view result);
    // A session refused with `reason` and SQLSTATE `code`; also counts authentication
    // failures and protocol errors among them.
    void refused(std::string_view reason, std::string_view code);
    void auth_failed(std::string_view reason) { auth_failures_.add(reason); }
    void protocol_error(std::string_view kind) { protocol_errors_.add(kind); }
    // Live retargeting: a session moved to another backend; pause and drain outcomes.
    void retargeted() { retargets_->Increment(); }
    void pause_event(PauseEvent event);
    void drain_event(DrainEvent event);
    void admin_request(int status);
    void admin_unauthorized() { admin_unauthorized_->Increment(); }
    void config_reload(bool ok) { reloads_.add(ok ? "ok" : "rejected"); }

    void set_store_limit(size_t limit) { stores_.set_limit(limit); }
    // The watcher keeping the routing table current, if any; without one the registry is read
    // once at start (or from a file) and reported as connected once loaded.
    void set_watcher(const registry::Watcher* watcher) { watcher_.store(watcher); }
    void registry_loaded();

    // Every family in Prometheus text format 0.0.4.
    std::string scrape();

  private:
    void collect_live(std::vector<prometheus::MetricFamily>& out) const;
    void collect_pools(std::vector<prometheus::MetricFamily>& out) const;
    void collect_registry(std::vector<prometheus::MetricFamily>& out) const;

    const registry::RoutingTable& routing_;
    PoolManager& pools_;
    const SessionRegistry& sessions_;
    std::shared_ptr<prometheus::Registry> registry_;

    prometheus::Family<prometheus::Counter>* transactions_;
    prometheus::Family<prometheus::Histogram>* transaction_seconds_;
    prometheus::Family<prometheus::Counter>* queries_;
    prometheus::Family<prometheus::Histogram>* query_seconds_;
    prometheus::Family<prometheus::Histogram>* pool_wait_seconds_;
    prometheus::Family<prometheus::Counter>* bytes_received_;
    prometheus::Family<prometheus::Counter>* bytes_sent_;
    prometheus::Counter* client_connections_;
    prometheus::Counter* retargets_;
    prometheus::Counter* admin_unauthorized_;
    // [source][result], both from fixed lists (see routed()).
    std::array<std::array<prometheus::Counter*, 3>, 6> routing_decisions_{};
    BoundedCounter auth_failures_;
    BoundedCounter protocol_errors_;
    BoundedCounter refusals_;
    BoundedCounter pause_events_;
    BoundedCounter drain_events_;
    BoundedCounter admin_requests_;
    BoundedCounter reloads_;

    mutable std::mutex db_keys_mutex_;
    std::map<std::string, std::shared_ptr<const DbKeyMetrics>> db_keys_;
    StoreTracker stores_;
    std::atomic<const registry::Watcher*> watcher_{nullptr};
    std::atomic<int64_t> registry_loaded_ns_{0};  // steady clock; 0 until loaded
    double start_time_;
};

}  // namespace storegate::proxy
