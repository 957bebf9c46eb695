#include "registry/pg_registry.h"

#include <algorithm>

#include "common/log.h"
#include "registry/pg_rows.h"

namespace storegate::registry {

namespace {

// Stores are read through a cursor in batches so that a registry of a million stores never
// sits in memory twice (once as a libpq result, once as the model).
constexpr int kFetchBatch = 10000;

std::string load_stores(const PgConn& conn, std::vector<Store>& out, std::string& skipped) {
    PgResult declared =
        conn.exec(std::string("DECLARE storegate_stores NO SCROLL CURSOR FOR ") + kStoreSelect);
    if (!declared.ok()) {
        return declared.error();
    }
    const std::string fetch = "FETCH " + std::to_string(kFetchBatch) + " FROM storegate_stores";
    for (;;) {
        PgResult batch = conn.exec(fetch);
        if (!batch.ok()) {
            return batch.error();
        }
        std::string error = append_stores(batch, out);
        if (skipped.empty()) {
            skipped = error;
        }
        if (batch.rows() < kFetchBatch) {
            return {};
        }
    }
}

// Reads the version and every table; returns the first error.
std::string read_tables(const PgConn& conn, Snapshot& snapshot, std::string& skipped) {
    PgResult version = conn.exec("SELECT version FROM storegate_registry_version");
    if (!version.ok()) {
        return version.error();
    }
    if (version.rows() == 1) {
        snapshot.version = std::stoull(version.text(0, 0));
    }
    PgResult backends = conn.exec(kBackendSelect);
    if (!backends.ok()) {
        return backends.error();
    }
    skipped = append_backends(backends, snapshot.backends);
    PgResult tenants = conn.exec(kTenantSelect);
    if (!tenants.ok()) {
        return tenants.error();
    }
    std::string tenant_error = append_tenants(tenants, snapshot.tenants);
    if (skipped.empty()) {
        skipped = tenant_error;
    }
    return load_stores(conn, snapshot.stores, skipped);
}

bool plain_conninfo_value(std::string_view value) {
    return !value.empty() && std::all_of(value.begin(), value.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' ||
               c == '/' || c == ':' || c == ',';
    });
}

}  // namespace

PgLoadResult load_snapshot(const PgConn& conn) {
    PgLoadResult result;
    // One repeatable-read transaction: the version and every table come from the same snapshot,
    // so the version names exactly the changes the rows include.
    result.error = conn.exec_all({"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"});
    std::string skipped;
    if (result.error.empty()) {
        result.error = read_tables(conn, result.snapshot, skipped);
    }
    if (result.error.empty()) {
        result.error = conn.exec_all({"COMMIT"});
    }
    if (!result.error.empty()) {
        conn.exec("ROLLBACK");
        result.error = "cannot load the registry: " + result.error;
        result.snapshot = Snapshot{};
        return result;
    }
    if (!skipped.empty()) {
        log::warn("registry rows skipped first_error=\"{}\"", skipped);
    }
    result.ok = true;
    return result;
}

PgLoadResult load_pg(const std::string& dsn) {
    PgConn conn(dsn);
    if (!conn.ok()) {
        PgLoadResult result;
        result.error = "cannot connect to the registry: " + conn.error();
        return result;
    }
    return load_snapshot(conn);
}

std::string redact_dsn(const std::string& dsn) {
    // libpq parses both the key/value and the URI form; the result is rebuilt as key/value.
    char* error = nullptr;
    PQconninfoOption* options = PQconninfoParse(dsn.c_str(), &error);
    PQfreemem(error);
    if (options == nullptr) {
        return "(unparsable DSN)";
    }
    std::string out;
    for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
        if (o->val == nullptr || std::string_view(o->keyword) == "password") {
            continue;
        }
        std::string value = o->val;
        if (!plain_conninfo_value(value)) {
            std::string quoted = "'";
            for (char c : value) {
                quoted += (c == '\'' || c == '\\') ? std::string("\\") + c : std::string(1, c);
            }
            value = quoted + "'";
        }
        out += (out.empty() ? "" : " ") + std::string(o->keyword) + "=" + value;
    }
    PQconninfoFree(options);
    return out;
}

}  // namespace storegate::registry
