// Registry schema migrations. Each version is one SQL script applied in the same transaction as
// its row in storegate_schema_version, under a transaction-level advisory lock, so concurrent
// `registry init` runs serialize and a failed script leaves nothing half-applied.
#include <string>
#include <vector>

#include "registry/pg_conn.h"
#include "registry/pg_registry.h"

namespace storegate::registry {

namespace {

// Any constant works as long as nothing else in the database uses it for another purpose.
constexpr const char* kLockSql = "SELECT pg_advisory_xact_lock(7263846117030931)";

constexpr const char* kVersionTableSql = R"sql(
CREATE TABLE IF NOT EXISTS storegate_schema_version (
    version int PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
))sql";

// Version 1: the routing tables of multi-store-strategy.md and what they reference, the change
// feed (registry version + NOTIFY), and the tables running instances report into.
constexpr const char* kVersion1 = R"sql(
CREATE TABLE db_connections (
    db_key text PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('shared', 'dedicated')),
    host text NOT NULL,
    port int NOT NULL CHECK (port BETWEEN 1 AND 65535),
    database_name text NOT NULL,
    username text NOT NULL,
    password_secret_ref text NOT NULL,
    status text NOT NULL,
    sslmode text CHECK (sslmode IN ('disable', 'allow', 'prefer', 'require', 'verify-ca',
                                    'verify-full')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tenants (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL,
    slug text UNIQUE,
    common_db_key text REFERENCES db_connections (db_key),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE stores (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    slug text NOT NULL UNIQUE,
    name text NOT NULL DEFAULT '',
    status text NOT NULL DEFAULT 'active',
    paused boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stores_tenant_id_idx ON stores (tenant_id);

CREATE TABLE store_db_routing (
    store_id uuid PRIMARY KEY REFERENCES stores (id) ON DELETE CASCADE,
    db_key text NOT NULL REFERENCES db_connections (db_key),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX store_db_routing_db_key_idx ON store_db_routing (db_key);

-- One row. Every statement that changes routing data bumps it in the same transaction, so the
-- row lock orders writers and a snapshot's version names exactly the changes it can see.
CREATE TABLE storegate_registry_version (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    version bigint NOT NULL DEFAULT 0
);
INSERT INTO storegate_registry_version DEFAULT VALUES;

CREATE FUNCTION storegate_touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

-- Statement-level, with the changed rows as transition tables: one version bump per statement,
-- one NOTIFY per changed key, and for statements touching many rows a single NOTIFY with a null
-- key that tells listeners to reload everything instead of re-reading row by row.
-- TG_ARGV[0] names the table's key column.
CREATE FUNCTION storegate_registry_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    keys text[];
    new_version bigint;
    key text;
BEGIN
    IF TG_OP = 'INSERT' THEN
        EXECUTE format('SELECT array_agg(DISTINCT %I::text) FROM new_rows', TG_ARGV[0])
            INTO keys;
    ELSIF TG_OP = 'DELETE' THEN
        EXECUTE format('SELECT array_agg(DISTINCT %I::text) FROM old_rows', TG_ARGV[0])
            INTO keys;
    ELSIF TG_OP = 'UPDATE' THEN
        EXECUTE format('SELECT array_agg(DISTINCT k) FROM (SELECT %1$I::text AS k FROM new_rows'
                       ' UNION SELECT %1$I::text FROM old_rows) changed', TG_ARGV[0])
            INTO keys;
    END IF;
    IF TG_OP <> 'TRUNCATE' AND keys IS NULL THEN
        RETURN NULL;  -- the statement changed no rows
    END IF;
    UPDATE storegate_registry_version SET version = version + 1 RETURNING version
        INTO new_version;
    IF keys IS NULL OR cardinality(keys) > 100 THEN
        PERFORM pg_notify('storegate_registry', json_build_object('table', TG_TABLE_NAME,
            'op', TG_OP, 'key', NULL, 'version', new_version)::text);
        RETURN NULL;
    END IF;
    FOREACH key IN ARRAY keys LOOP
        PERFORM pg_notify('storegate_registry', json_build_object('table', TG_TABLE_NAME,
            'op', TG_OP, 'key', key, 'version', new_version)::text);
    END LOOP;
    RETURN NULL;
END
$$;

DO $$
DECLARE
    target record;
BEGIN
    FOR target IN SELECT * FROM (VALUES ('db_connections', 'db_key'), ('tenants', 'id'),
                                        ('stores', 'id'), ('store_db_routing', 'store_id'))
                                 AS t (name, key_column) LOOP
        EXECUTE format('CREATE TRIGGER %1$s_updated_at BEFORE UPDATE ON %1$I FOR EACH ROW '
                       'EXECUTE FUNCTION storegate_touch_updated_at()', target.name);
        EXECUTE format('CREATE TRIGGER %1$s_notify_insert AFTER INSERT ON %1$I '
                       'REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT '
                       'EXECUTE FUNCTION storegate_registry_changed(%2$L)',
                       target.name, target.key_column);
        EXECUTE format('CREATE TRIGGER %1$s_notify_update AFTER UPDATE ON %1$I '
                       'REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION storegate_registry_changed(%2$L)',
                       target.name, target.key_column);
        EXECUTE format('CREATE TRIGGER %1$s_notify_delete AFTER DELETE ON %1$I '
                       'REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT '
                       'EXECUTE FUNCTION storegate_registry_changed(%2$L)',
                       target.name, target.key_column);
        EXECUTE format('CREATE TRIGGER %1$s_notify_truncate AFTER TRUNCATE ON %1$I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION storegate_registry_changed(%2$L)',
                       target.name, target.key_column);
    END LOOP;
END
$$;

CREATE TABLE storegate_instances (
    id text PRIMARY KEY,
    address text NOT NULL DEFAULT '',
    admin_address text NOT NULL DEFAULT '',
    storegate_version text NOT NULL DEFAULT '',
    started_at timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    applied_version bigint NOT NULL DEFAULT 0
);

CREATE TABLE storegate_audit (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    actor text NOT NULL DEFAULT current_user,
    action text NOT NULL,
    store_id uuid,
    old_value jsonb,
    new_value jsonb
);
CREATE INDEX storegate_audit_store_idx ON storegate_audit (store_id, at);

-- Pause agreement: after an instance has applied a registry version in which a store is paused
-- and has no transaction of that store left in flight, it upserts its row here with that
-- version. Whoever paused the store waits until every live instance (recent heartbeat_at) has
-- a row at or above the version of the pause; resuming deletes the store's rows.
CREATE TABLE storegate_store_quiesced (
    instance_id text NOT NULL REFERENCES storegate_instances (id) ON DELETE CASCADE,
    store_id uuid NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    version bigint NOT NULL,
    at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (instance_id, store_id)
);
CREATE INDEX storegate_store_quiesced_store_idx ON storegate_store_quiesced (store_id);
)sql";

// Version 2: each instance's cancel-key tag, so a CancelRequest that reaches another instance
// can be forwarded to the one that issued the key; and an index for the quiesce reporters,
// which look for paused stores after every registry change.
constexpr const char* kVersion2 = R"sql(
ALTER TABLE storegate_instances ADD COLUMN instance_tag smallint;
CREATE INDEX storegate_instances_tag_idx ON storegate_instances (instance_tag);
CREATE INDEX stores_paused_idx ON stores (id) WHERE paused;
)sql";

// Index i holds the script that brings the schema to version i + 1. Scripts never change once
// released; a change is a new version.
const std::vector<const char*>& migrations() {
    static const std::vector<const char*> kMigrations = {kVersion1, kVersion2};
    return kMigrations;
}

// Applies every missing version inside the caller's transaction; returns the error, if any.
std::string apply_missing(const PgConn& conn, MigrateResult& result) {
    PgResult current = conn.exec("SELECT coalesce(max(version), 0) FROM storegate_schema_version");
    if (!current.ok()) {
        return current.error();
    }
    int version = std::stoi(current.text(0, 0));
    int latest = static_cast<int>(migrations().size());
    if (version > latest) {
        return "registry schema version " + std::to_string(version) +
               " is newer than this storegate knows (" + std::to_string(latest) + ")";
    }
    for (; version < latest; ++version) {
        PgResult applied = conn.exec(migrations()[version]);
        if (!applied.ok()) {
            return "migration to version " + std::to_string(version + 1) +
                   " failed: " + applied.error();
        }
        PgResult recorded = conn.exec("INSERT INTO storegate_schema_version (version) VALUES ($1)",
                                      {std::to_string(version + 1)});
        if (!recorded.ok()) {
            return recorded.error();
        }
    }
    result.version = version;
    return {};
}

}  // namespace

MigrateResult migrate(const std::string& dsn) {
    MigrateResult result;
    PgConn conn(dsn, "storegate registry init");
    if (!conn.ok()) {
        result.error = "cannot connect to the registry: " + conn.error();
        return result;
    }
    result.error = conn.exec_all({"BEGIN", kLockSql, kVersionTableSql});
    if (result.error.empty()) {
        result.error = apply_missing(conn, result);
    }
    if (result.error.empty()) {
        result.error = conn.exec_all({"COMMIT"});
    }
    if (!result.error.empty()) {
        conn.exec("ROLLBACK");
        result.version = 0;
        return result;
    }
    result.ok = true;
    return result;
}

}  // namespace storegate::registry
