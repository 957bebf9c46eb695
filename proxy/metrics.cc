#include "proxy/metrics.h"

#include <prometheus/text_serializer.h>

#include <chrono>

#include "registry/watcher.h"

namespace storegate::proxy {

namespace {

using prometheus::MetricFamily;
using prometheus::MetricType;

constexpr std::array<std::string_view, 6> kRouteSources = {"options", "user",    "database",
                                                           "sni",     "default", "none"};
constexpr std::array<std::string_view, 3> kRouteResults = {"ok", "unknown", "rejected"};

// Seconds, from 0.5 ms to 30 s: covers both an indexed lookup and a slow report.
const prometheus::Histogram::BucketBoundaries& duration_buckets() {
    static const prometheus::Histogram::BucketBoundaries kBuckets = {
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
    return kBuckets;
}

// Pool waits are usually nothing; the low buckets tell "no wait" from "a short queue".
const prometheus::Histogram::BucketBoundaries& wait_buckets() {
    static const prometheus::Histogram::BucketBoundaries kBuckets = {
        0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30};
    return kBuckets;
}

int64_t steady_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
        .count();
}

MetricFamily family(std::string name, std::string help, MetricType type) {
    MetricFamily f;
    f.name = std::move(name);
    f.help = std::move(help);
    f.type = type;
    return f;
}

void add_sample(MetricFamily& f, std::vector<prometheus::ClientMetric::Label> labels,
                double value) {
    prometheus::ClientMetric m;
    m.label = std::move(labels);
    if (f.type == MetricType::Counter) {
        m.counter.value = value;
    } else {
        m.gauge.value = value;
    }
    f.metric.push_back(std::move(m));
}

MetricFamily single(std::string name, std::string help, MetricType type, double value) {
    auto f = family(std::move(name), std::move(help), type);
    add_sample(f, {}, value);
    return f;
}

template <typename T>
prometheus::Family<T>* build(prometheus::Registry& registry, const std::string& name,
                             const std::string& help) {
    if constexpr (std::is_same_v<T, prometheus::Counter>) {
        return &prometheus::BuildCounter().Name(name).Help(help).Register(registry);
    } else {
        return &prometheus::BuildHistogram().Name(name).Help(help).Register(registry);
    }
}

prometheus::Counter* plain_counter(prometheus::Registry& registry, const std::string& name,
                                   const std::string& help) {
    return &build<prometheus::Counter>(registry, name, help)->Add({});
}

}  // namespace

BoundedCounter::BoundedCounter(prometheus::Registry& registry, const std::string& name,
                               const std::string& help, const std::string& label,
                               std::initializer_list<std::string_view> values) {
    auto* f = build<prometheus::Counter>(registry, name, help);
    for (auto value : values) {
        counters_.emplace_back(std::string(value), &f->Add({{label, std::string(value)}}));
    }
    other_ = &f->Add({{label, "other"}});
}

void BoundedCounter::add(std::string_view value, double n) {
    for (auto& [name, counter] : counters_) {
        if (name == value) {
            counter->Increment(n);
            return;
        }
    }
    other_->Increment(n);
}

Metrics::Metrics(const registry::RoutingTable& routing, PoolManager& pools,
                 const SessionRegistry& sessions)
    : routing_(routing),
      pools_(pools),
      sessions_(sessions),
      registry_(std::make_shared<prometheus::Registry>()),
      transactions_(build<prometheus::Counter>(*registry_, "storegate_transactions_total",
                                               "Transactions finished (explicit or implicit)")),
      transaction_seconds_(build<prometheus::Histogram>(
          *registry_, "storegate_transaction_duration_seconds",
          "Time from a transaction's first query to the end of its last")),
      queries_(build<prometheus::Counter>(*registry_, "storegate_queries_total",
                                          "Queries finished (one per ReadyForQuery)")),
      query_seconds_(build<prometheus::Histogram>(
          *registry_, "storegate_query_duration_seconds",
          "Time from a client's request to the server's ReadyForQuery")),
      pool_wait_seconds_(
          build<prometheus::Histogram>(*registry_, "storegate_pool_wait_duration_seconds",
                                       "Time a client waited for a server connection")),
      bytes_received_(build<prometheus::Counter>(
          *registry_, "storegate_client_received_bytes_total", "Bytes received from clients")),
      bytes_sent_(build<prometheus::Counter>(*registry_, "storegate_client_sent_bytes_total",
                                             "Bytes sent to clients")),
      client_connections_(plain_counter(*registry_, "storegate_client_connections_total",
                                        "Client connections accepted")),
      retargets_(plain_counter(*registry_, "storegate_retargets_total",
                               "Sessions moved to another backend after a routing change")),
      admin_unauthorized_(plain_counter(*registry_, "storegate_admin_unauthorized_total",
                                        "Admin API requests refused for a missing or wrong "
                                        "token")),
      auth_failures_(*registry_, "storegate_auth_failures_total",
                     "Client authentication failures by reason", "reason",
                     {"unknown_user", "wrong_password", "malformed"}),
      protocol_errors_(*registry_, "storegate_protocol_errors_total",
                       "Malformed client input by kind", "kind", {"startup", "auth", "message"}),
      refusals_(*registry_, "storegate_client_refusals_total",
                "Client connections ended with an error, by reason", "reason",
                {"bad_startup", "unknown_user", "wrong_password", "malformed", "unknown_store",
                 "no_route", "no_server", "bad_session_params", "bad_message", "server_lost"}),
      pause_events_(*registry_, "storegate_pause_events_total",
                    "Store pause state changes and paused waits that timed out", "event",
                    {"paused", "resumed", "wait_timeout"}),
      drain_events_(*registry_, "storegate_drain_events_total",
                    "Sessions on an old backend after a routing change, by outcome", "result",
                    {"drained", "closed"}),
      admin_requests_(
          *registry_, "storegate_admin_requests_total", "Admin API requests by response status",
          "status", {"200", "400", "401", "404", "405", "409", "413", "422", "500", "501", "503"}),
      reloads_(*registry_, "storegate_config_reloads_total", "Configuration reloads by result",
               "result", {"ok", "rejected"}),
      stores_(100, std::chrono::minutes(10)),
      start_time_(std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
                      .count()) {
    auto* decisions = build<prometheus::Counter>(*registry_, "storegate_routing_decisions_total",
                                                 "Routing decisions by source and result");
    for (size_t s = 0; s < kRouteSources.size(); ++s) {
        for (size_t r = 0; r < kRouteResults.size(); ++r) {
            routing_decisions_[s][r] = &decisions->Add({{"source", std::string(kRouteSources[s])},
                                                        {"result", std::string(kRouteResults[r])}});
        }
    }
}

Metrics::~Metrics() = default;

std::shared_ptr<const DbKeyMetrics> Metrics::db_key(const std::string& db_key) {
    std::lock_guard lock(db_keys_mutex_);
    auto it = db_keys_.find(db_key);
    if (it != db_keys_.end()) {
        return it->second;
    }
    auto m = std::make_shared<DbKeyMetrics>();
    prometheus::Labels labels{{"db_key", db_key}};
    m->db_key = db_key;
    m->transactions = &transactions_->Add(labels);
    m->transaction_seconds = &transaction_seconds_->Add(labels, duration_buckets());
    m->queries = &queries_->Add(labels);
    m->query_seconds = &query_seconds_->Add(labels, duration_buckets());
    m->pool_wait_seconds = &pool_wait_seconds_->Add(labels, wait_buckets());
    m->bytes_received = &bytes_received_->Add(labels);
    m->bytes_sent = &bytes_sent_->Add(labels);
    db_keys_.emplace(db_key, m);
    return m;
}

std::vector<DbKeyTotals> Metrics::totals() const {
    std::vector<std::shared_ptr<const DbKeyMetrics>> handles;
    {
        std::lock_guard lock(db_keys_mutex_);
        for (const auto& [key, m] : db_keys_) {
            handles.push_back(m);
        }
    }
    std::vector<DbKeyTotals> out;
    for (const auto& m : handles) {
        DbKeyTotals t;
        t.db_key = m->db_key;
        t.transactions = static_cast<uint64_t>(m->transactions->Value());
        t.queries = static_cast<uint64_t>(m->queries->Value());
        t.bytes_received = static_cast<uint64_t>(m->bytes_received->Value());
        t.bytes_sent = static_cast<uint64_t>(m->bytes_sent->Value());
        t.transaction_seconds = m->transaction_seconds->Collect().histogram.sample_sum;
        t.query_seconds = m->query_seconds->Collect().histogram.sample_sum;
        t.wait_seconds = m->pool_wait_seconds->Collect().histogram.sample_sum;
        out.push_back(std::move(t));
    }
    return out;
}

void Metrics::routed(std::string_view source, std::string_view result) {
    // Both lists are closed: the router names the sources, the session the results. Anything
    // else lands on the last entry of each (none, rejected).
    size_t s = 0;
    while (s + 1 < kRouteSources.size() && kRouteSources[s] != source) {
        ++s;
    }
    size_t r = 0;
    while (r + 1 < kRouteResults.size() && kRouteResults[r] != result) {
        ++r;
    }
    routing_decisions_[s][r]->Increment();
}

void Metrics::refused(std::string_view reason, std::string_view code) {
    if (reason.starts_with("malformed")) {
        auth_failed("malformed");
        protocol_error("auth");
        refusals_.add("malformed");
        return;
    }
    if (code.starts_with("28")) {
        auth_failed(reason);
    } else if (reason == "bad_startup") {
        protocol_error("startup");
    } else if (reason == "bad_message") {
        protocol_error("message");
    }
    refusals_.add(reason);
}

void Metrics::pause_event(PauseEvent event) {
    switch (event) {
        case PauseEvent::kPaused:
            pause_events_.add("paused");
            break;
        case PauseEvent::kResumed:
            pause_events_.add("resumed");
            break;
        case PauseEvent::kWaitTimeout:
            pause_events_.add("wait_timeout");
            break;
    }
}

void Metrics::drain_event(DrainEvent event) {
    drain_events_.add(event == DrainEvent::kDrained ? "drained" : "closed");
}

void Metrics::admin_request(int status) {
    admin_requests_.add(std::to_string(status));
}

void Metrics::registry_loaded() {
    registry_loaded_ns_.store(steady_ns());
}

std::string Metrics::scrape() {
    auto families = registry_->Collect();
    collect_live(families);
    collect_pools(families);
    collect_registry(families);
    stores_.collect(families, Clock::now());
    return prometheus::TextSerializer().Serialize(families);
}

void Metrics::collect_live(std::vector<MetricFamily>& out) const {
    auto states =
        family("storegate_client_connections", "Client connections by state", MetricType::Gauge);
    for (size_t i = 0; i < kClientStateCount; ++i) {
        auto state = static_cast<ClientState>(i);
        add_sample(states, {{"state", std::string(to_string(state))}},
                   static_cast<double>(sessions_.count(state)));
    }
    auto pinned = family("storegate_client_pinned",
                         "Clients holding their server connection between transactions, by "
                         "reason",
                         MetricType::Gauge);
    for (size_t i = 0; i < kPinReasonCount; ++i) {
        auto reason = static_cast<PinReason>(i);
        add_sample(pinned, {{"reason", std::string(to_string(reason))}},
                   static_cast<double>(sessions_.pinned(reason)));
    }
    out.push_back(std::move(states));
    out.push_back(std::move(pinned));
    auto info =
        family("storegate_build_info", "Build of this storegate (always 1)", MetricType::Gauge);
    add_sample(info, {{"version", "0.1.0"}}, 1);
    out.push_back(std::move(info));
    out.push_back(single("storegate_start_time_seconds", "Unix time the process started",
                         MetricType::Gauge, start_time_));
}

// Limitation: the pool counters (waits, timeouts, connects) live in the pool and start over when
// an idle pool is evicted - matters only for rate() across an eviction, which sees a reset.
void Metrics::collect_pools(std::vector<MetricFamily>& out) const {
    auto servers = family("storegate_server_connections",
                          "Server connections by db_key and state (active: checked out or opening)",
                          MetricType::Gauge);
    auto waiting = family("storegate_pool_waiting_clients",
                          "Clients queued for a server connection", MetricType::Gauge);
    auto waits = family("storegate_pool_waits_total",
                        "Checkouts that had to queue for a server connection", MetricType::Counter);
    auto timeouts = family("storegate_pool_wait_timeouts_total",
                           "Checkouts that gave up after pool.wait_timeout", MetricType::Counter);
    auto connects =
        family("storegate_server_connects_total", "Server connections opened", MetricType::Counter);
    auto failures = family("storegate_server_connect_failures_total",
                           "Server connections that failed to open or log in", MetricType::Counter);
    for (const auto& pool : pools_.all()) {
        auto s = pool->stats();
        const std::string& key = pool->db_key();
        add_sample(servers, {{"db_key", key}, {"state", "active"}}, s.active);
        add_sample(servers, {{"db_key", key}, {"state", "idle"}}, s.idle);
        add_sample(waiting, {{"db_key", key}}, s.waiting);
        add_sample(waits, {{"db_key", key}}, static_cast<double>(s.waits));
        add_sample(timeouts, {{"db_key", key}}, static_cast<double>(s.timeouts));
        add_sample(connects, {{"db_key", key}}, static_cast<double>(s.connects));
        add_sample(failures, {{"db_key", key}}, static_cast<double>(s.connect_failures));
    }
    for (auto* f : {&servers, &waiting, &waits, &timeouts, &connects, &failures}) {
        out.push_back(std::move(*f));
    }
}

void Metrics::collect_registry(std::vector<MetricFamily>& out) const {
    const registry::Watcher* watcher = watcher_.load();
    int64_t loaded_ns = registry_loaded_ns_.load();
    bool connected = watcher ? watcher->connected() : loaded_ns != 0;
    double version = static_cast<double>(watcher ? watcher->applied_version() : routing_.version());
    double age = 0;
    if (watcher) {
        age = std::chrono::duration<double>(watcher->last_update_age()).count();
    } else if (loaded_ns != 0) {
        age = static_cast<double>(steady_ns() - loaded_ns) / 1e9;
    }
    out.push_back(single("storegate_registry_connected",
                         "1 while the routing registry is reachable (or loaded, without a "
                         "change feed)",
                         MetricType::Gauge, connected ? 1 : 0));
    out.push_back(single("storegate_registry_applied_version",
                         "Registry version of the latest change applied", MetricType::Gauge,
                         version));
    out.push_back(single("storegate_registry_last_update_age_seconds",
                         "Time since the routing table was last known to match the registry",
                         MetricType::Gauge, age));
    out.push_back(single("storegate_registry_stores", "Stores in the routing table",
                         MetricType::Gauge, static_cast<double>(routing_.store_count())));
}

}  // namespace storegate::proxy
