#include "identity/schema.h"

#include <string>

namespace storegate::identity {

namespace {

// pg_advisory_xact_lock key of the identity installer ("SGID" and 1), distinct from any
// other component's lock.
constexpr const char* kInstallLock = "SELECT pg_advisory_xact_lock(1397180740, 1)";

constexpr const char* kVersionTable =
    "CREATE SCHEMA IF NOT EXISTS identity;"
    "CREATE TABLE IF NOT EXISTS identity.schema_version ("
    " version integer PRIMARY KEY,"
    " name text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())";

void require_registry_tables(Db& db) {
    Rows found =
        db.query("SELECT to_regclass('tenants') IS NOT NULL AND to_regclass('stores') IS NOT NULL");
    if (found.text(0, 0) != "t") {
        throw DbError("this database has no tenants and stores tables", "42P01",
                      "the identity schema references the registry's tenants and stores",
                      "run `storegate registry init --dsn DSN` on it first, or point --dsn at "
                      "the registry or a tenant's common database");
    }
}

int installed_version(Db& db) {
    Rows rows = db.query("SELECT coalesce(max(version), 0) FROM identity.schema_version");
    return std::stoi(std::string(rows.text(0, 0)));
}

InstallResult migrate(Db& db) {
    require_registry_tables(db);
    db.script(kVersionTable);
    InstallResult result;
    result.from_version = installed_version(db);
    result.to_version = result.from_version;
    std::span<const Migration> all = migrations();
    if (!all.empty() && result.from_version > all.back().version) {
        throw DbError("the identity schema is at version " + std::to_string(result.from_version) +
                      ", newer than this storegate (" + std::to_string(all.back().version) + ")");
    }
    for (const Migration& migration : all) {
        if (migration.version <= result.from_version) {
            continue;
        }
        db.script(std::string(migration.sql));
        db.query("INSERT INTO identity.schema_version (version, name) VALUES ($1, $2)",
                 {std::to_string(migration.version), std::string(migration.name)});
        result.to_version = migration.version;
    }
    return result;
}

}  // namespace

InstallResult install_schema(Db& db) {
    db.script("BEGIN");
    try {
        db.script(kInstallLock);
        InstallResult result = migrate(db);
        db.script("COMMIT");
        return result;
    } catch (const DbError&) {
        try {
            db.script("ROLLBACK");
        } catch (const DbError&) {
            // The connection is gone; the server rolls the transaction back by itself.
        }
        throw;
    }
}

}  // namespace storegate::identity
