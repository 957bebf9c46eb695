#include "proxy/store_commands.h"

#include <poll.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <memory>

#include "proxy/admin_registry.h"
#include "registry/pg_conn.h"
#include "registry/secrets.h"
#include "registry/watcher.h"

namespace storegate::proxy {

namespace {

using Clock = std::chrono::steady_clock;
using registry::PgConn;
using registry::PgResult;

// Instances notify registry::kFleetChannel when they confirm; the fleet is read again on each
// notification, and this often without one (instances of older releases do not notify).
constexpr std::chrono::milliseconds kPoll{20};
constexpr int kRouteAttempts = 5;  // a route change retries when another change slipped in

struct StoreOptions {
    std::string action;
    std::string store;
    std::string to;
    std::string dsn_ref;
    std::string actor;
    int timeout_ms = 30000;
};

struct Fleet {
    bool ok = false;
    std::string error;
    int instances = 0;
};

long long millis_since(Clock::time_point start) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

// The command's one registry connection: it makes the changes and listens for the instances'
// confirmations, from before the first change so that none is missed.
class FleetWatch {
  public:
    explicit FleetWatch(const std::string& dsn) : conn_(dsn, "storegate store") {
        if (!conn_.ok()) {
            error_ = "cannot connect to the registry: " + conn_.error();
            return;
        }
        PgResult listen = conn_.exec(std::string("LISTEN ") + registry::kFleetChannel);
        if (!listen.ok()) {
            error_ = "cannot listen for confirmations: " + listen.error();
        }
    }

    bool ok() const { return error_.empty(); }
    const std::string& error() const { return error_; }
    const PgConn& conn() const { return conn_; }

    // Returns once an instance has confirmed something since the last call (libpq may have
    // queued the notification while a query ran), or after `timeout`.
    void wait(std::chrono::milliseconds timeout) const {
        if (take_notifications()) {
            return;
        }
        pollfd fd{PQsocket(conn_.get()), POLLIN, 0};
        if (::poll(&fd, 1, static_cast<int>(std::max<int64_t>(timeout.count(), 0))) > 0) {
            PQconsumeInput(conn_.get());
            take_notifications();
        }
    }

  private:
    bool take_notifications() const {
        bool any = false;
        while (PGnotify* notify = PQnotifies(conn_.get())) {
            PQfreemem(notify);
            any = true;
        }
        return any;
    }

    PgConn conn_;
    std::string error_;
};

// One look at the fleet: the live instances that have not confirmed `version` yet.
std::string unconfirmed(const PgConn& conn, const std::string& store_id, uint64_t version,
                        bool quiesced, int& live) {
    PgResult r = conn.exec(
        "SELECT i.id, i.applied_version, coalesce(q.version, 0) FROM storegate_instances i "
        "LEFT JOIN storegate_store_quiesced q ON q.instance_id = i.id AND q.store_id = $1::uuid "
        "WHERE i.heartbeat_at > now() - interval '5 seconds' ORDER BY i.id",
        {store_id});
    if (!r.ok()) {
        return "registry query failed: " + r.error();
    }
    live = r.rows();
    std::string missing;
    for (int i = 0; i < r.rows(); ++i) {
        uint64_t seen = std::stoull(r.text(i, quiesced ? 2 : 1));
        if (seen < version) {
            missing += (missing.empty() ? "" : ", ") + r.text(i, 0);
        }
    }
    return missing;
}

// Waits until every live instance has applied `version` (and, for a pause, has no transaction
// of the store in flight), or the timeout passes.
Fleet wait_fleet(const FleetWatch& watch, const std::string& store_id, uint64_t version,
                 bool quiesced, std::chrono::milliseconds timeout) {
    Fleet fleet;
    auto deadline = Clock::now() + timeout;
    for (;;) {
        std::string missing =
            unconfirmed(watch.conn(), store_id, version, quiesced, fleet.instances);
        if (missing.empty()) {
            fleet.ok = true;
            return fleet;
        }
        if (Clock::now() >= deadline || missing.starts_with("registry query failed")) {
            fleet.error = missing.starts_with("registry query failed")
                              ? missing
                              : "not confirmed within " + std::to_string(timeout.count()) +
                                    " ms by instance(s): " + missing;
            return fleet;
        }
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        watch.wait(std::clamp(left, std::chrono::milliseconds(1), kPoll));
    }
}

bool edit_ok(const RegistryEdit& edit, const StoreOptions& o) {
    if (edit.status == 200) {
        return true;
    }
    std::cerr << "storegate store " << o.action << ": " << edit.error << "\n";
    return false;
}

// Routes the store to `to`, retrying when another registry change lands in between.
RegistryEdit route(const PgConn& conn, const StoreOptions& o) {
    RegistryEdit edit;
    for (int attempt = 0; attempt < kRouteAttempts; ++attempt) {
        PgResult v = conn.exec("SELECT version FROM storegate_registry_version");
        if (!v.ok() || v.rows() != 1) {
            edit.status = 503;
            edit.error = "cannot read the registry version: " +
                         (v.ok() ? std::string("no version row") : v.error());
            return edit;
        }
        edit = set_store_route(conn, o.store, o.to, std::stoull(v.text(0, 0)), o.actor);
        if (edit.status != 409) {
            return edit;
        }
    }
    return edit;
}

int confirm(const FleetWatch& watch, const RegistryEdit& edit, bool quiesced, const StoreOptions& o,
            const std::string& done) {
    auto start = Clock::now();
    Fleet fleet = wait_fleet(watch, edit.store.id.to_string(), edit.version, quiesced,
                             std::chrono::milliseconds(o.timeout_ms));
    if (!fleet.ok) {
        std::cerr << "storegate store " << o.action << ": store \"" << edit.store.slug << "\" "
                  << done << " at registry version " << edit.version << ", but " << fleet.error
                  << "\n";
        return 1;
    }
    std::cout << "store " << edit.store.slug << " " << done << " (registry version " << edit.version
              << "); confirmed by " << fleet.instances << " instance(s) in " << millis_since(start)
              << " ms\n";
    return 0;
}

bool watch_ok(const FleetWatch& watch, const StoreOptions& o) {
    if (watch.ok()) {
        return true;
    }
    std::cerr << "storegate store " << o.action << ": " << watch.error() << "\n";
    return false;
}

int pause_or_resume(const std::string& dsn, const StoreOptions& o) {
    FleetWatch watch(dsn);
    if (!watch_ok(watch, o)) {
        return 1;
    }
    bool pause = o.action == "pause";
    RegistryEdit edit = set_store_paused(watch.conn(), o.store, pause, o.actor);
    if (!edit_ok(edit, o)) {
        return 1;
    }
    int code = confirm(watch, edit, pause, o, pause ? "paused" : "resumed");
    if (code != 0 && pause) {
        std::cerr << "the store stays paused; `storegate store resume " << o.store
                  << "` lifts the pause\n";
    }
    return code;
}

int reroute(const std::string& dsn, const StoreOptions& o) {
    FleetWatch watch(dsn);
    if (!watch_ok(watch, o)) {
        return 1;
    }
    RegistryEdit edit = route(watch.conn(), o);
    if (!edit_ok(edit, o)) {
        return 1;
    }
    return confirm(watch, edit, false, o, "routed to " + o.to);
}

// Undoes the pause of a move that could not finish: the store goes on where it is routed (its
// old backend, unless the switch committed and only its answer was lost). On a connection of
// its own: the move's connection may be the reason it failed.
void abandon_move(const std::string& dsn, const StoreOptions& o, bool paused_here) {
    if (!paused_here) {
        return;
    }
    RegistryEdit edit = set_store_paused(dsn, o.store, false, o.actor);
    std::cerr << (edit.status == 200
                      ? "move abandoned; the store was resumed on " + edit.store.db_key
                      : "move abandoned, and resuming failed: " + edit.error +
                            "; run `storegate store resume " + o.store + "`")
              << "\n";
}

// Pause, wait until no instance has a transaction of the store in flight, then switch the
// route and resume in one registry transaction, and wait until every instance has applied
// that: only then has the pause ended everywhere, so that is what the pause is measured to.
// Limitation: no server connection to the new backend is opened before the resume, so where
// an instance holds no idle one the first transactions there wait for connections to be made
// - matters when connecting to the new backend is slow (TLS, a distant host); the pause
// reported does not include that wait.
// Limitation: a move to the db_key the store already uses is not refused; it pauses and
// resumes the store and reports a move - harmless.
int move(const std::string& dsn, const StoreOptions& o) {
    FleetWatch watch(dsn);
    if (!watch_ok(watch, o)) {
        return 1;
    }
    auto timeout = std::chrono::milliseconds(o.timeout_ms);
    RegistryEdit paused = set_store_paused(watch.conn(), o.store, true, o.actor);
    if (!edit_ok(paused, o)) {
        return 1;
    }
    // The pause begins for the store when instances apply it, after the commit.
    auto pause_start = Clock::now();
    bool paused_here = paused.changed;  // a store paused before the move stays paused after it
    std::string from = paused.store.db_key;
    Fleet fleet = wait_fleet(watch, paused.store.id.to_string(), paused.version, true, timeout);
    long long quiesced_ms = millis_since(pause_start);
    RegistryEdit switched;
    if (fleet.ok) {
        switched = switch_paused_store(watch.conn(), o.store, o.to, paused_here, o.actor);
    }
    if (!fleet.ok || switched.status != 200) {
        std::cerr << "storegate store move: "
                  << (fleet.ok ? switched.error : "pause " + fleet.error) << "\n";
        abandon_move(dsn, o, paused_here);
        return 1;
    }
    std::string moved = "store " + paused.store.slug + " moved from " + from + " to " + o.to;
    if (!paused_here) {
        std::cout << moved << "; it was paused before and stays paused\n";
        return confirm(watch, switched, false, o, "routed to " + o.to);
    }
    long long switched_ms = millis_since(pause_start);
    Fleet done = wait_fleet(watch, paused.store.id.to_string(), switched.version, false, timeout);
    long long pause_ms = millis_since(pause_start);
    if (!done.ok) {
        std::cerr << "storegate store move: " << moved << " and resumed (registry version "
                  << switched.version << "), but " << done.error << "\n";
        return 1;
    }
    std::cout << moved << "; paused for " << pause_ms << " ms (quiesced after " << quiesced_ms
              << " ms, switched and resumed after " << switched_ms << " ms)\n";
    std::cout << "store " << switched.store.slug << " resumed (registry version "
              << switched.version << "); confirmed by " << done.instances << " instance(s) in "
              << pause_ms - switched_ms << " ms\n";
    return 0;
}

int run_store_command(const StoreOptions& o) {
    registry::SecretResult dsn = registry::resolve_secret(o.dsn_ref, true);
    if (!dsn.value) {
        std::cerr << "storegate store " << o.action << ": " << dsn.error << "\n";
        return 2;
    }
    if ((o.action == "route" || o.action == "move") && o.to.empty()) {
        std::cerr << "storegate store " << o.action << ": --to DB_KEY is required\n";
        return 2;
    }
    if (o.action == "route") {
        return reroute(*dsn.value, o);
    }
    if (o.action == "move") {
        return move(*dsn.value, o);
    }
    return pause_or_resume(*dsn.value, o);
}

}  // namespace

void add_store_commands(CLI::App& app, int& exit_code) {
    auto* store = app.add_subcommand("store", "pause, resume, route or move a store, fleet-wide");
    store->require_subcommand(1);
    const char* actions[][2] = {
        {"pause", "pause a store: new transactions wait; returns once it is quiesced everywhere"},
        {"resume", "resume a paused store"},
        {"route", "route a store to another db_key (at each client's next transaction)"},
        {"move", "pause, wait for in-flight transactions, switch the route, resume"}};
    for (const auto& [name, help] : actions) {
        auto o = std::make_shared<StoreOptions>();
        o->action = name;
        const char* user = std::getenv("USER");
        o->actor = std::string("cli ") + (user != nullptr ? user : "unknown");
        auto* cmd = store->add_subcommand(name, help);
        cmd->add_option("store", o->store, "store id or slug")->required();
        cmd->add_option("--dsn", o->dsn_ref, "registry DSN, or env:NAME / file:PATH")->required();
        cmd->add_option("--timeout-ms", o->timeout_ms, "how long to wait for every instance")
            ->check(CLI::PositiveNumber);
        cmd->add_option("--actor", o->actor, "who is asking (recorded in storegate_audit)");
        if (o->action == "route" || o->action == "move") {
            cmd->add_option("--to", o->to, "the db_key to route the store to");
        }
        cmd->callback([&exit_code, o] { exit_code = run_store_command(*o); });
    }
}

}  // namespace storegate::proxy
