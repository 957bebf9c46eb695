#include "registry/watcher.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <boost/json.hpp>

#include "common/log.h"
#include "common/version.h"
#include "registry/pg_conn.h"
#include "registry/pg_rows.h"

namespace storegate::registry {

namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kChannel = "storegate_registry";
// Unknown keys clients keep asking for; beyond this the cache starts over rather than grow.
constexpr size_t kMaxNegativeEntries = 100000;

const std::string kUpsertInstanceSql =
    "INSERT INTO storegate_instances (id, address, admin_address, applied_version, "
    "storegate_version) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET address = "
    "EXCLUDED.address, admin_address = EXCLUDED.admin_address, applied_version = "
    "EXCLUDED.applied_version, storegate_version = EXCLUDED.storegate_version, heartbeat_at = "
    "now()";
// The same, and a notification that commits with it ($6 is the channel).
const std::string kAnnounceSql =
    "WITH beat AS (" + kUpsertInstanceSql + " RETURNING id) SELECT pg_notify($6, id) FROM beat";

int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
        .count();
}

// One NOTIFY payload of the registry triggers: {table, op, key, version}.
struct Change {
    std::string table;
    std::optional<std::string> key;  // none: the statement touched many rows, reload all
    uint64_t version = 0;
};

std::optional<Change> parse_change(std::string_view payload) {
    boost::system::error_code ec;
    boost::json::value value = boost::json::parse(payload, ec);
    if (ec || !value.is_object()) {
        return std::nullopt;
    }
    const auto& o = value.as_object();
    const auto* table = o.if_contains("table");
    const auto* key = o.if_contains("key");
    const auto* version = o.if_contains("version");
    if (table == nullptr || !table->is_string() || version == nullptr || !version->is_int64() ||
        version->as_int64() < 0 || (key != nullptr && !key->is_string() && !key->is_null())) {
        return std::nullopt;
    }
    Change change{std::string(table->as_string()), std::nullopt,
                  static_cast<uint64_t>(version->as_int64())};
    if (key != nullptr && key->is_string()) {
        change.key = std::string(key->as_string());
    }
    return change;
}

// Runs the single-row `sql` for `key` and hands the converted row, or nullopt when the row is
// gone (or unusable), to `apply`. False when the query failed.
template <typename Convert, typename Apply>
bool reread_row(const PgConn& conn, const std::string& sql, const std::string& key, Convert convert,
                Apply apply) {
    PgResult r = conn.exec(sql, {key});
    if (!r.ok()) {
        return false;
    }
    std::string error;
    auto row = r.rows() == 1 ? convert(r, 0, error) : std::nullopt;
    if (!error.empty() && log::allow("registry.row")) {
        log::warn("registry row ignored error=\"{}\"", error);
    }
    apply(row);
    return true;
}

}  // namespace

Watcher::Watcher(RoutingTable& table, WatcherOptions options)
    : table_(table), options_(std::move(options)) {
    last_update_ns_ = now_ns();
}

Watcher::~Watcher() {
    stop();
}

void Watcher::start() {
    if (thread_.joinable()) {
        return;
    }
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    stopping_ = false;
    thread_ = std::thread([this] { run(); });
}

void Watcher::stop() {
    stopping_ = true;
    if (wake_fd_ >= 0) {
        uint64_t one = 1;
        [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof(one));
    }
    if (thread_.joinable()) {
        thread_.join();
    }
    if (wake_fd_ >= 0) {
        ::close(wake_fd_);
        wake_fd_ = -1;
    }
    loaded_cv_.notify_all();
    std::lock_guard lock(lookup_mutex_);
    lookup_conn_.reset();
}

bool Watcher::wait_loaded(std::chrono::milliseconds timeout) {
    std::unique_lock lock(loaded_mutex_);
    return loaded_cv_.wait_for(lock, timeout, [this] { return loaded_ || stopping_.load(); }) &&
           loaded_;
}

std::chrono::milliseconds Watcher::last_update_age() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::nanoseconds(now_ns() - last_update_ns_.load()));
}

void Watcher::touch() {
    last_update_ns_ = now_ns();
}

bool Watcher::wait_readable(int fd, std::chrono::milliseconds timeout) {
    pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {fd, POLLIN, 0}};
    ::poll(fds, fd >= 0 ? 2 : 1, static_cast<int>(std::max<int64_t>(timeout.count(), 0)));
    return !stopping_;
}

bool Watcher::sleep_for(std::chrono::milliseconds duration) {
    return wait_readable(-1, duration);
}

void Watcher::run() {
    auto backoff = options_.min_backoff;
    bool was_connected = false;
    while (!stopping_) {
        PgConn conn(options_.dsn, "storegate watcher");
        if (!conn.ok()) {
            if (log::allow("registry.connect")) {
                log::warn("registry unreachable retry_ms={} error=\"{}\"", backoff.count(),
                          conn.error());
            }
        } else if (conn.exec(std::string("LISTEN ") + kChannel).ok()) {
            // Marked connected before the load is announced, so whoever waited for the load
            // also sees the connection.
            connected_ = true;
            if (load_all(conn)) {
                backoff = options_.min_backoff;
                was_connected = true;
                session(conn);
                if (stopping_) {
                    leave_fleet(conn);
                }
            }
        }
        connected_ = false;
        if (was_connected && !stopping_) {
            ++reconnects_;
            was_connected = false;
        }
        if (!sleep_for(backoff)) {
            break;
        }
        backoff = std::min(backoff * 2, options_.max_backoff);
    }
}

// Runs while the connection is healthy; returns when it is lost or the watcher stops.
void Watcher::session(PgConn& conn) {
    connected_ = true;
    log::info("registry connected version={}", applied_version());
    // Register (heartbeat) at once, so fleet-wide commands count this instance from its
    // first second rather than after the first quiet interval.
    if (!check_liveness(conn)) {
        return;
    }
    auto last_activity = Clock::now();
    while (!stopping_) {
        // libpq queues notifications that arrive while any query runs, ours included, and the
        // socket then has nothing left to wake the wait: take them before waiting.
        int applied = drain_notifications(conn);
        if (applied < 0) {
            return;
        }
        auto now = Clock::now();
        if (applied > 0) {
            // Confirmed at once rather than at the next heartbeat: a pause, route or resume
            // command waits for this row.
            // Limitation: one write per batch of applied changes, whatever they were - matters
            // for registries that change many times a second under large fleets, where these
            // writes add up on the registry.
            if (!heartbeat(conn, true)) {
                return;
            }
            last_activity = now;
            continue;
        }
        if (now - last_activity >= options_.liveness_interval) {
            if (!check_liveness(conn)) {
                return;
            }
            last_activity = now;
            continue;
        }
        if (now >= last_full_load_ + options_.refresh_interval) {
            if (!load_all(conn)) {
                return;
            }
            continue;
        }
        auto until_refresh = std::chrono::duration_cast<std::chrono::milliseconds>(
            last_full_load_ + options_.refresh_interval - now);
        auto until_liveness = std::chrono::duration_cast<std::chrono::milliseconds>(
            last_activity + options_.liveness_interval - now);
        auto timeout = std::clamp(std::min(until_refresh, until_liveness),
                                  std::chrono::milliseconds(0), options_.liveness_interval);
        if (!wait_readable(PQsocket(conn.get()), timeout)) {
            return;
        }
        if (PQconsumeInput(conn.get()) == 0) {
            log::warn("registry connection lost error=\"{}\"", conn.error());
            return;
        }
    }
}

bool Watcher::load_all(const PgConn& conn) {
    PgLoadResult result = load_snapshot(conn);
    if (!result.ok) {
        log::warn("registry load failed error=\"{}\"", result.error);
        return false;
    }
    size_t stores = result.snapshot.stores.size();
    size_t backends = result.snapshot.backends.size();
    loaded_version_ = result.snapshot.version;
    table_.replace(result.snapshot);
    applied_version_ = result.snapshot.version;
    last_full_load_ = Clock::now();
    ++full_loads_;
    touch();
    clear_misses();
    log::info("registry loaded version={} stores={} backends={}", loaded_version_, stores,
              backends);
    {
        std::lock_guard lock(loaded_mutex_);
        loaded_ = true;
    }
    loaded_cv_.notify_all();
    return true;
}

int Watcher::drain_notifications(const PgConn& conn) {
    int applied = 0;
    while (PGnotify* notify = PQnotifies(conn.get())) {
        std::string payload = notify->extra;
        PQfreemem(notify);
        if (!apply(conn, payload)) {
            return -1;
        }
        ++applied;
    }
    return applied;
}

// Returns false only when the connection failed; a payload storegate cannot use is logged and
// dropped, and the next full resync repairs whatever it named.
bool Watcher::apply(const PgConn& conn, std::string_view payload) {
    std::optional<Change> change = parse_change(payload);
    if (!change) {
        if (log::allow("registry.payload")) {
            log::warn("registry notification ignored payload_bytes={}", payload.size());
        }
        return true;
    }
    // Changes up to the snapshot's version are already in the table; several notifications
    // of one statement share a version, so only the snapshot's version decides this.
    if (change->version <= loaded_version_) {
        return true;
    }
    if (!change->key) {
        return load_all(conn);
    }
    // The version goes first: whoever sees the row in the table then reads a version that
    // covers it (the quiesce reporter reports the version it read after seeing a pause).
    table_.set_version(change->version);
    if (!reread(conn, change->table, *change->key)) {
        return false;
    }
    applied_version_ = std::max(applied_version_.load(), change->version);
    ++rows_applied_;
    touch();
    return true;
}

// Re-reads the row a notification names and puts it (or its absence) into the table. Returns
// false when the query failed.
bool Watcher::reread(const PgConn& conn, std::string_view table, const std::string& key) {
    if (table == "db_connections") {
        return reread_row(conn, std::string(kBackendSelect) + kBackendByKey, key, backend_from_row,
                          [&](const std::optional<Backend>& backend) {
                              if (backend) {
                                  table_.upsert_backend(*backend);
                              } else {
                                  table_.remove_backend(key);
                              }
                          });
    }
    std::optional<Uuid> id = Uuid::parse(key);
    if (!id) {
        return true;  // every other registry table is keyed by uuid
    }
    if (table == "tenants") {
        return reread_row(conn, std::string(kTenantSelect) + kTenantById, key, tenant_from_row,
                          [&](const std::optional<Tenant>& tenant) {
                              if (tenant) {
                                  table_.upsert_tenant(*tenant);
                              } else {
                                  table_.remove_tenant(*id);
                              }
                          });
    }
    if (table != "stores" && table != "store_db_routing") {
        return true;
    }
    clear_misses();
    return reread_row(conn, std::string(kStoreSelect) + kStoreById, key, store_from_row,
                      [&](const std::optional<Store>& store) {
                          if (store) {
                              table_.upsert_store(*store);
                          } else {
                              table_.remove_store(*id);
                          }
                      });
}

bool Watcher::check_liveness(const PgConn& conn) {
    PgResult version = conn.exec("SELECT version FROM storegate_registry_version");
    if (!version.ok()) {
        log::warn("registry connection lost error=\"{}\"", version.error());
        return false;
    }
    touch();
    return heartbeat(conn, false);
}

bool Watcher::heartbeat(const PgConn& conn, bool announce) {
    if (options_.instance_id.empty()) {
        return true;
    }
    std::vector<std::string> params{options_.instance_id, options_.address, options_.admin_address,
                                    std::to_string(applied_version()), kVersion};
    if (announce) {
        params.emplace_back(kFleetChannel);
    }
    PgResult beat = conn.exec(announce ? kAnnounceSql : kUpsertInstanceSql, params);
    if (!beat.ok() && log::allow("registry.heartbeat")) {
        log::warn("registry heartbeat failed error=\"{}\"", beat.error());
    }
    return PQstatus(conn.get()) == CONNECTION_OK;
}

// Stopping comes after the last session ended: this instance has nothing in flight and will
// apply nothing more, so fleet-wide commands must not wait for it until its heartbeat ages.
void Watcher::leave_fleet(const PgConn& conn) {
    if (options_.instance_id.empty() || PQstatus(conn.get()) != CONNECTION_OK) {
        return;
    }
    PgResult gone = conn.exec(
        "WITH gone AS (DELETE FROM storegate_instances WHERE id = $1 RETURNING id) "
        "SELECT pg_notify($2, id) FROM gone",
        {options_.instance_id, kFleetChannel});
    if (gone.ok()) {
        log::info("left the fleet instance={}", options_.instance_id);
    } else {
        log::warn("cannot leave the fleet instance={} error=\"{}\"", options_.instance_id,
                  gone.error());
    }
}

bool Watcher::negative_hit(const std::string& key) {
    std::lock_guard lock(misses_mutex_);
    auto it = misses_.find(key);
    if (it == misses_.end()) {
        return false;
    }
    if (Clock::now() - it->second < options_.negative_cache_ttl) {
        return true;
    }
    misses_.erase(it);
    return false;
}

void Watcher::remember_miss(const std::string& key) {
    std::lock_guard lock(misses_mutex_);
    if (misses_.size() >= kMaxNegativeEntries) {
        misses_.clear();
    }
    misses_[key] = Clock::now();
}

void Watcher::clear_misses() {
    std::lock_guard lock(misses_mutex_);
    misses_.clear();
}

// The store row for `key` (uuid or slug) straight from the registry, with its backend added
// to the table when the table lacks it. Nullopt when absent or unreachable.
std::optional<Store> Watcher::query_store(const std::string& key) {
    // Limitation: direct lookups share one registry connection, one query at a time - matters
    // only when many clients name stores the table does not hold yet, all at the same moment.
    std::lock_guard lock(lookup_mutex_);
    if (!lookup_conn_ || !lookup_conn_->ok()) {
        lookup_conn_ = std::make_unique<PgConn>(options_.dsn, "storegate lookup");
    }
    std::optional<Uuid> id = Uuid::parse(key);
    PgResult r = lookup_conn_->exec(std::string(kStoreSelect) + (id ? kStoreById : kStoreBySlug),
                                    {id ? id->to_string() : key});
    std::string error;
    std::optional<Store> store = r.rows() == 1 ? store_from_row(r, 0, error) : std::nullopt;
    if (!r.ok() && log::allow("registry.lookup")) {
        log::warn("registry lookup failed error=\"{}\"",
                  lookup_conn_->ok() ? r.error() : lookup_conn_->error());
    }
    if (store && !store->db_key.empty() && !table_.find_backend(store->db_key)) {
        PgResult b =
            lookup_conn_->exec(std::string(kBackendSelect) + kBackendByKey, {store->db_key});
        if (auto backend = b.rows() == 1 ? backend_from_row(b, 0, error) : std::nullopt) {
            table_.upsert_backend(*backend);
        }
    }
    return store;
}

std::optional<Route> Watcher::lookup_store_now(std::string_view key) {
    if (auto route = table_.find_store(key)) {
        return route;
    }
    std::string text(key);
    if (text.empty() || negative_hit(text)) {
        return std::nullopt;
    }
    std::optional<Store> store = query_store(text);
    if (!store) {
        remember_miss(text);
        return std::nullopt;
    }
    table_.upsert_store(*store);
    return table_.find_store(store->id.to_string());
}

}  // namespace storegate::registry
