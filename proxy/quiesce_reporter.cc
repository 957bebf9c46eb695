#include "proxy/quiesce_reporter.h"

#include "common/log.h"
#include "registry/pg_conn.h"
#include "registry/watcher.h"

namespace storegate::proxy {

namespace {

// Fallbacks only: the thread wakes on every table change and when a watched store drains. It
// looks again this often while a paused store is not reported yet (a failed report, say).
constexpr std::chrono::milliseconds kPollInterval{50};
constexpr std::chrono::milliseconds kRetryInterval{1000};
// How long in_flight_after() may wait for the generation to catch up with a change.
constexpr std::chrono::milliseconds kListenerWait{1000};

bool connection_lost(const registry::PgConn& conn) {
    return PQstatus(conn.get()) != CONNECTION_OK;
}

}  // namespace

QuiesceReporter::QuiesceReporter(StoreControl& control, Metrics& metrics, QuiesceOptions options)
    : control_(control), metrics_(metrics), options_(std::move(options)) {}

QuiesceReporter::~QuiesceReporter() {
    stop();
}

void QuiesceReporter::start() {
    thread_ = std::thread([this] { run(); });
}

void QuiesceReporter::stop() {
    stopping_.store(true);
    control_.wake();
    if (thread_.joinable()) {
        thread_.join();
    }
}

void QuiesceReporter::run() {
    while (!stopping_.load()) {
        registry::PgConn conn(options_.dsn, "storegate quiesce");
        if (conn.ok()) {
            // A new connection may have missed changes: look at every paused store again.
            seen_generation_ = 0;
            loaded_generation_ = 0;
            while (!stopping_.load() && pass(conn)) {
                control_.wait_change(seen_generation_, seen_drains_, kPollInterval);
            }
        }
        if (!stopping_.load() && log::allow("quiesce_registry_down")) {
            log::warn("quiesce reporter lost the registry; retrying error=\"{}\"", conn.error());
        }
        for (auto waited = std::chrono::milliseconds(0); waited < kRetryInterval && !stopping_;
             waited += kPollInterval) {
            std::this_thread::sleep_for(kPollInterval);
        }
    }
}

// Runs on every table change and every drain of a watched store. The registry's paused list
// is read again only when the table changed: this instance's table follows the registry, so
// a store the registry paused since the last read reaches the table later, and moves the
// generation when it does.
bool QuiesceReporter::pass(registry::PgConn& conn) {
    if (!tag_recorded_ && !record_tag(conn)) {
        return false;
    }
    uint64_t generation = control_.generation();
    uint64_t drains = control_.drains();
    if (generation == seen_generation_ && drains == seen_drains_ && !unfinished_) {
        return true;
    }
    seen_generation_ = generation;
    seen_drains_ = drains;
    unfinished_ = false;
    if (generation != loaded_generation_) {
        if (!load_candidates(conn)) {
            unfinished_ = true;
            return !connection_lost(conn);
        }
        loaded_generation_ = generation;
    }
    control_.unwatch_drains();
    std::unordered_set<Uuid, UuidHash> paused_now;
    for (const auto& key : candidates_) {
        auto route = control_.routing().find_store(key);
        if (!route || !route->store->paused) {
            continue;  // this instance has not applied the pause yet
        }
        paused_now.insert(route->store->id);
        if (!check_store(conn, route->store->id)) {
            return false;
        }
    }
    std::erase_if(reported_, [&](const auto& entry) { return !paused_now.contains(entry.first); });
    count_pause_events(paused_now);
    paused_last_pass_ = std::move(paused_now);
    return true;
}

bool QuiesceReporter::load_candidates(registry::PgConn& conn) {
    registry::PgResult rows = conn.exec("SELECT id FROM stores WHERE paused");
    if (!rows.ok()) {
        return false;
    }
    candidates_.clear();
    for (int i = 0; i < rows.rows(); ++i) {
        candidates_.push_back(rows.text(i, 0));
    }
    return true;
}

// Called right after the table showed `store` paused. The version and the change count are
// read after that lookup, so both cover the change that paused it (the watcher sets the
// table's version before it applies a row). The in-flight count is read once every worker
// thread is sure to see that change: a transaction that starts later waits.
bool QuiesceReporter::check_store(registry::PgConn& conn, const Uuid& store) {
    uint64_t version = control_.routing().version();
    uint64_t changes = control_.routing().changes();
    auto done = reported_.find(store);
    if (done != reported_.end() && done->second >= version) {
        return true;
    }
    std::optional<int> busy = control_.in_flight_after(store, changes, kListenerWait);
    if (!busy || *busy > 0) {
        // The store's last leave() wakes the thread; a wait that timed out needs the poll.
        unfinished_ = unfinished_ || !busy;
        return true;
    }
    if (!report(conn, store, version)) {
        return false;
    }
    auto now = reported_.find(store);
    unfinished_ = unfinished_ || now == reported_.end() || now->second < version;
    return true;
}

void QuiesceReporter::count_pause_events(const std::unordered_set<Uuid, UuidHash>& paused_now) {
    for (const auto& id : paused_now) {
        if (!paused_last_pass_.contains(id)) {
            metrics_.pause_event(PauseEvent::kPaused);
            log::info("store pause applied store={}", id.to_string());
        }
    }
    for (const auto& id : paused_last_pass_) {
        if (!paused_now.contains(id)) {
            metrics_.pause_event(PauseEvent::kResumed);
            log::info("store pause lifted store={}", id.to_string());
        }
    }
}

bool QuiesceReporter::report(registry::PgConn& conn, const Uuid& store, uint64_t version) {
    registry::PgResult r = conn.exec(
        "WITH q AS (INSERT INTO storegate_store_quiesced (instance_id, store_id, version) "
        "VALUES ($1, $2::uuid, $3) ON CONFLICT (instance_id, store_id) "
        "DO UPDATE SET version = EXCLUDED.version, at = now() RETURNING instance_id) "
        "SELECT pg_notify($4, instance_id) FROM q",
        {options_.instance_id, store.to_string(), std::to_string(version),
         registry::kFleetChannel});
    if (r.ok()) {
        reported_[store] = version;
        log::info("store quiesced store={} version={}", store.to_string(), version);
        return true;
    }
    // The instance row may not exist yet (the watcher writes it): try again next pass.
    if (log::allow("quiesce_report_failed")) {
        log::warn("quiesce report failed store={} error=\"{}\"", store.to_string(), r.error());
    }
    return !connection_lost(conn);
}

bool QuiesceReporter::record_tag(registry::PgConn& conn) {
    registry::PgResult r =
        conn.exec("UPDATE storegate_instances SET instance_tag = $2::smallint WHERE id = $1",
                  {options_.instance_id, std::to_string(options_.instance_tag)});
    if (!r.ok()) {
        if (connection_lost(conn)) {
            return false;
        }
        // A registry not migrated to version 2: cancels cannot be forwarded here.
        log::warn("cannot record the cancel tag; run storegate registry init error=\"{}\"",
                  r.error());
        tag_recorded_ = true;
        return true;
    }
    tag_recorded_ = std::string_view(PQcmdTuples(r.get())) == "1";
    if (tag_recorded_) {
        log::info("cancel tag recorded instance={} tag={}", options_.instance_id,
                  options_.instance_tag);
    }
    return true;
}

}  // namespace storegate::proxy
