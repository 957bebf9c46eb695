// The PostgreSQL registry (control plane), through libpq. Used from its own thread: nothing
// here runs on the data path.
#pragma once

#include <string>

#include "registry/model.h"

namespace storegate::registry {

struct PgLoadResult {
    bool ok = false;
    Snapshot snapshot;
    std::string error;  // never contains the DSN's password
};

// Loads tenants, stores, store_db_routing and db_connections in one repeatable-read snapshot.
PgLoadResult load_pg(const std::string& dsn);

// Creates or upgrades the registry schema. Idempotent; returns the schema version reached.
struct MigrateResult {
    bool ok = false;
    int version = 0;
    std::string error;
};
MigrateResult migrate(const std::string& dsn);

// Strips password=... from a conninfo string or URI so it can be logged.
std::string redact_dsn(const std::string& dsn);

}  // namespace storegate::registry
