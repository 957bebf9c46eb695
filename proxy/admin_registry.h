// Changes the admin surface makes to the PostgreSQL registry: pause/resume a store
// (stores.paused), move a store to another db_key (store_db_routing), each in one transaction
// with a storegate_audit row; and the list of running instances (storegate_instances).
// The registry's triggers bump its version and notify every instance, so a change made here
// reaches the whole fleet like any other registry write.
// Blocking libpq calls: run them on Services::blocking, never on a worker thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "registry/model.h"

namespace storegate::registry {
class PgConn;
}

namespace storegate::proxy {

struct RegistryEdit {
    // HTTP-style outcome: 200 done, 400 bad request (unknown db_key), 404 unknown store,
    // 409 stale version, 503 registry unreachable or the statement failed.
    int status = 503;
    std::string error;
    uint64_t version = 0;    // registry version after the change (or now, on 409)
    registry::Store store;   // the store's row after the change
    std::string old_db_key;  // route changes: the db_key before
    bool changed = false;    // false when the row already had the requested value
};

// `actor` goes into storegate_audit.actor (who asked, e.g. "http 127.0.0.1:53312").
RegistryEdit set_store_paused(const std::string& dsn, const std::string& store_key, bool paused,
                              const std::string& actor);
// Refused with 409 unless the registry is still at `expected_version`: the caller decided on
// the route it saw at that version, and any registry change since may invalidate it.
// Limitation: the check is on the whole registry's version, not the store's own - matters when
// the registry changes often, where a caller has to read and retry more than strictly needed.
RegistryEdit set_store_route(const std::string& dsn, const std::string& store_key,
                             const std::string& db_key, uint64_t expected_version,
                             const std::string& actor);
// The same two on an open connection with no transaction in progress, for callers that make
// several changes in a row and should not pay for a connection each time.
RegistryEdit set_store_paused(const registry::PgConn& conn, const std::string& store_key,
                              bool paused, const std::string& actor);
RegistryEdit set_store_route(const registry::PgConn& conn, const std::string& store_key,
                             const std::string& db_key, uint64_t expected_version,
                             const std::string& actor);
// The switch of a move: routes a paused store to `db_key` and, with `resume`, lifts the pause
// in the same transaction, so instances apply both at once (audit rows "route", "resume").
// Refused with 409 when the store is not paused any more (someone resumed it during the move,
// so transactions may be running on the old backend), 400 for an unknown db_key.
RegistryEdit switch_paused_store(const registry::PgConn& conn, const std::string& store_key,
                                 const std::string& db_key, bool resume, const std::string& actor);

struct InstanceRow {
    std::string id;
    std::string address;
    std::string admin_address;
    std::string storegate_version;
    std::string started_at;
    std::string heartbeat_at;
    uint64_t applied_version = 0;
    double heartbeat_age_seconds = 0;
};

struct InstanceList {
    bool ok = false;
    std::string error;
    uint64_t registry_version = 0;
    std::vector<InstanceRow> rows;
};

InstanceList list_instances(const std::string& dsn);

}  // namespace storegate::proxy
