#include "proxy/quiesce_reporter.h"

#include "common/log.h"
#include "registry/pg_conn.h"

namespace storegate::proxy {

namespace {

// While a paused store is not yet reported, the thread looks again this often even without a
// table change: the store's last transaction may end at any moment.
constexpr std::chrono::milliseconds kPollInterval{50};
constexpr std::chrono::milliseconds kRetryInterval{1000};

bool connection_lost(const registry::PgConn& conn) {
    return PQstatus(conn.get()) != CONNECTION_OK;
}

}  // namespace

QuiesceReporter::QuiesceReporter(StoreControl& control, QuiesceOptions options)
    : control_(control), options_(std::move(options)) {}

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
            while (!stopping_.load() && pass(conn)) {
                control_.wait_change(seen_generation_, kPollInterval);
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

// A store counts as quiesced only when it was paused in the table on the previous pass too:
// by then every worker has seen the table change that paused it, so a transaction starting
// after this pass's in-flight check is certain to wait.
bool QuiesceReporter::pass(registry::PgConn& conn) {
    if (!tag_recorded_ && !record_tag(conn)) {
        return false;
    }
    uint64_t generation = control_.generation();
    bool pending = false;
    for (const auto& id : paused_last_pass_) {
        pending = pending || !reported_.contains(id);
    }
    if (generation == seen_generation_ && !pending) {
        return true;
    }
    seen_generation_ = generation;
    registry::PgResult rows = conn.exec("SELECT id FROM stores WHERE paused");
    if (!rows.ok()) {
        return !connection_lost(conn);
    }
    std::unordered_set<Uuid, UuidHash> paused_now;
    for (int i = 0; i < rows.rows(); ++i) {
        auto route = control_.routing().find_store(rows.text(i, 0));
        if (!route || !route->store->paused) {
            continue;  // this instance has not applied the pause yet
        }
        const Uuid& id = route->store->id;
        paused_now.insert(id);
        uint64_t version = control_.routing().version();
        auto done = reported_.find(id);
        bool due = done == reported_.end() || done->second < version;
        if (due && paused_last_pass_.contains(id) && control_.in_flight(id) == 0 &&
            !report(conn, id, version)) {
            return false;
        }
    }
    std::erase_if(reported_, [&](const auto& entry) { return !paused_now.contains(entry.first); });
    paused_last_pass_ = std::move(paused_now);
    return true;
}

bool QuiesceReporter::report(registry::PgConn& conn, const Uuid& store, uint64_t version) {
    registry::PgResult r = conn.exec(
        "INSERT INTO storegate_store_quiesced (instance_id, store_id, version) "
        "VALUES ($1, $2::uuid, $3) ON CONFLICT (instance_id, store_id) "
        "DO UPDATE SET version = EXCLUDED.version, at = now()",
        {options_.instance_id, store.to_string(), std::to_string(version)});
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
