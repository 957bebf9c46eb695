#include "proxy/store_commands.h"

#include <chrono>
#include <iostream>
#include <memory>
#include <thread>

#include "proxy/admin_registry.h"
#include "registry/pg_conn.h"
#include "registry/secrets.h"

namespace storegate::proxy {

namespace {

using Clock = std::chrono::steady_clock;
using registry::PgConn;
using registry::PgResult;

constexpr std::chrono::milliseconds kPoll{50};
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
Fleet wait_fleet(const std::string& dsn, const std::string& store_id, uint64_t version,
                 bool quiesced, std::chrono::milliseconds timeout) {
    Fleet fleet;
    PgConn conn(dsn, "storegate store");
    if (!conn.ok()) {
        fleet.error = "cannot connect to the registry: " + conn.error();
        return fleet;
    }
    auto deadline = Clock::now() + timeout;
    for (;;) {
        std::string missing = unconfirmed(conn, store_id, version, quiesced, fleet.instances);
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
        std::this_thread::sleep_for(kPoll);
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
RegistryEdit route(const std::string& dsn, const StoreOptions& o) {
    RegistryEdit edit;
    for (int attempt = 0; attempt < kRouteAttempts; ++attempt) {
        PgConn conn(dsn, "storegate store");
        PgResult v = conn.exec("SELECT version FROM storegate_registry_version");
        if (!v.ok() || v.rows() != 1) {
            edit.status = 503;
            edit.error =
                "cannot read the registry version: " + (conn.ok() ? v.error() : conn.error());
            return edit;
        }
        edit = set_store_route(dsn, o.store, o.to, std::stoull(v.text(0, 0)), o.actor);
        if (edit.status != 409) {
            return edit;
        }
    }
    return edit;
}

int confirm(const std::string& dsn, const RegistryEdit& edit, bool quiesced, const StoreOptions& o,
            const char* done) {
    auto start = Clock::now();
    Fleet fleet = wait_fleet(dsn, edit.store.id.to_string(), edit.version, quiesced,
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

int pause_or_resume(const std::string& dsn, const StoreOptions& o) {
    bool pause = o.action == "pause";
    RegistryEdit edit = set_store_paused(dsn, o.store, pause, o.actor);
    if (!edit_ok(edit, o)) {
        return 1;
    }
    int code = confirm(dsn, edit, pause, o, pause ? "paused" : "resumed");
    if (code != 0 && pause) {
        std::cerr << "the store stays paused; `storegate store resume " << o.store
                  << "` lifts the pause\n";
    }
    return code;
}

int reroute(const std::string& dsn, const StoreOptions& o) {
    RegistryEdit edit = route(dsn, o);
    if (!edit_ok(edit, o)) {
        return 1;
    }
    return confirm(dsn, edit, false, o, ("routed to " + o.to).c_str());
}

// Undoes the pause of a move that could not finish: the store goes on where it was.
void abandon_move(const std::string& dsn, const StoreOptions& o, bool paused_here) {
    if (!paused_here) {
        return;
    }
    RegistryEdit edit = set_store_paused(dsn, o.store, false, o.actor);
    std::cerr << (edit.status == 200 ? "move abandoned; the store was resumed on its old backend"
                                     : "move abandoned, and resuming failed: " + edit.error +
                                           "; run `storegate store resume " + o.store + "`")
              << "\n";
}

// Pause, wait until no instance has a transaction of the store in flight, switch, resume.
int move(const std::string& dsn, const StoreOptions& o) {
    RegistryEdit paused = set_store_paused(dsn, o.store, true, o.actor);
    auto pause_start = Clock::now();
    if (!edit_ok(paused, o)) {
        return 1;
    }
    bool paused_here = paused.changed;  // a store paused before the move stays paused after it
    std::string from = paused.store.db_key;
    Fleet fleet = wait_fleet(dsn, paused.store.id.to_string(), paused.version, true,
                             std::chrono::milliseconds(o.timeout_ms));
    RegistryEdit routed;
    if (fleet.ok) {
        routed = route(dsn, o);
    }
    if (!fleet.ok || routed.status != 200) {
        std::cerr << "storegate store move: " << (fleet.ok ? routed.error : "pause " + fleet.error)
                  << "\n";
        abandon_move(dsn, o, paused_here);
        return 1;
    }
    RegistryEdit resumed = paused;
    if (paused_here) {
        resumed = set_store_paused(dsn, o.store, false, o.actor);
        if (!edit_ok(resumed, o)) {
            std::cerr << "the store is routed to " << o.to << " but still paused\n";
            return 1;
        }
    }
    long long pause_ms = millis_since(pause_start);
    std::cout << "store " << paused.store.slug << " moved from " << from << " to " << o.to
              << "; paused for " << pause_ms << " ms\n";
    return confirm(dsn, resumed, false, o, paused_here ? "resumed" : "left paused");
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
