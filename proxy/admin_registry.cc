#include "proxy/admin_registry.h"

#include <boost/json.hpp>

#include <charconv>

#include "registry/pg_conn.h"
#include "registry/pg_rows.h"

namespace storegate::proxy {

namespace {

using registry::PgConn;
using registry::PgResult;

uint64_t to_u64(const std::string& text) {
    uint64_t value = 0;
    std::from_chars(text.data(), text.data() + text.size(), value);
    return value;
}

// One registry transaction; a failed step rolls back and records a 503 with its error.
class Transaction {
  public:
    Transaction(const PgConn& conn, RegistryEdit& edit) : conn_(conn), edit_(edit) {}
    ~Transaction() {
        if (open_) {
            conn_.exec("ROLLBACK");
        }
    }

    bool begin() {
        if (!conn_.ok()) {
            return fail(503, "cannot connect to the registry: " + conn_.error());
        }
        open_ = run("BEGIN", {}).ok();
        return open_;
    }
    PgResult run(const std::string& sql, const std::vector<std::string>& params) {
        PgResult r = params.empty() ? conn_.exec(sql) : conn_.exec(sql, params);
        if (!r.ok() && edit_.error.empty()) {
            fail(503, "registry statement failed: " + r.error());
        }
        return r;
    }
    bool commit() {
        bool ok = run("COMMIT", {}).ok();
        open_ = false;  // a failed COMMIT has ended the transaction as well
        if (ok) {
            edit_.status = 200;
        }
        return ok;
    }
    bool fail(int status, std::string error) {
        edit_.status = status;
        edit_.error = std::move(error);
        return false;
    }

  private:
    const PgConn& conn_;
    RegistryEdit& edit_;
    bool open_ = false;
};

// Locks the store's row and reads it with its route; 404 when no store has that key.
bool lock_store(Transaction& tx, const std::string& key, RegistryEdit& edit) {
    std::string sql = std::string(registry::kStoreSelect) +
                      (Uuid::parse(key) ? registry::kStoreById : registry::kStoreBySlug) +
                      " FOR UPDATE OF s";
    PgResult r = tx.run(sql, {key});
    if (!r.ok()) {
        return false;
    }
    if (r.rows() != 1) {
        return tx.fail(404, "store \"" + key + "\" does not exist");
    }
    std::string error;
    auto store = registry::store_from_row(r, 0, error);
    if (!store) {
        return tx.fail(503, error);
    }
    edit.store = std::move(*store);
    return true;
}

bool read_version(Transaction& tx, RegistryEdit& edit, bool lock) {
    PgResult r = tx.run(
        std::string("SELECT version FROM storegate_registry_version") + (lock ? " FOR UPDATE" : ""),
        {});
    if (!r.ok() || r.rows() != 1) {
        return r.ok() ? tx.fail(503, "the registry has no version row") : false;
    }
    edit.version = to_u64(r.text(0, 0));
    return true;
}

bool audit(Transaction& tx, const std::string& actor, const std::string& action,
           const registry::Store& store, const boost::json::object& before,
           const boost::json::object& after) {
    return tx
        .run(
            "INSERT INTO storegate_audit (actor, action, store_id, old_value, new_value) "
            "VALUES ($1, $2, $3::uuid, $4::jsonb, $5::jsonb)",
            {actor, action, store.id.to_string(), boost::json::serialize(before),
             boost::json::serialize(after)})
        .ok();
}

// Sets the paused flag of the store lock_store() read into `edit`, with its audit row;
// `changed` says whether it differed. Lifting a pause also ends its agreement: the quiesce
// reports belong to the pause just lifted.
bool write_paused(Transaction& tx, RegistryEdit& edit, bool paused, const std::string& actor,
                  bool& changed) {
    changed = edit.store.paused != paused;
    std::string id = edit.store.id.to_string();
    if (changed) {
        bool ok = tx.run("UPDATE stores SET paused = $2::boolean WHERE id = $1::uuid",
                         {id, paused ? "true" : "false"})
                      .ok() &&
                  audit(tx, actor, paused ? "pause" : "resume", edit.store,
                        {{"paused", edit.store.paused}}, {{"paused", paused}});
        if (!ok) {
            return false;
        }
        edit.store.paused = paused;
    }
    return paused ||
           tx.run("DELETE FROM storegate_store_quiesced WHERE store_id = $1::uuid", {id}).ok();
}

// Routes the store lock_store() read into `edit` to `db_key` (400 when no such db_key, or
// when it is not active: routing there would refuse the store's clients), with its audit row;
// `changed` says whether the route differed.
bool write_route(Transaction& tx, RegistryEdit& edit, const std::string& db_key,
                 const std::string& actor, bool& changed) {
    PgResult backend = tx.run("SELECT status FROM db_connections WHERE db_key = $1", {db_key});
    if (!backend.ok()) {
        return false;
    }
    if (backend.rows() != 1) {
        return tx.fail(400, "db_key \"" + db_key + "\" does not exist");
    }
    if (backend.text(0, 0) != "active") {
        return tx.fail(
            400, "db_key \"" + db_key + "\" is not active (status \"" + backend.text(0, 0) + "\")");
    }
    edit.old_db_key = edit.store.db_key;
    changed = edit.old_db_key != db_key;
    if (changed) {
        boost::json::object before{{"db_key", edit.old_db_key}};
        bool ok = tx.run(
                        "INSERT INTO store_db_routing (store_id, db_key) VALUES ($1::uuid, $2) "
                        "ON CONFLICT (store_id) DO UPDATE SET db_key = EXCLUDED.db_key",
                        {edit.store.id.to_string(), db_key})
                      .ok() &&
                  audit(tx, actor, "route", edit.store, before, {{"db_key", db_key}});
        if (!ok) {
            return false;
        }
        edit.store.db_key = db_key;
    }
    return true;
}

}  // namespace

RegistryEdit set_store_paused(const std::string& dsn, const std::string& store_key, bool paused,
                              const std::string& actor) {
    PgConn conn(dsn, "storegate admin");
    return set_store_paused(conn, store_key, paused, actor);
}

RegistryEdit set_store_paused(const PgConn& conn, const std::string& store_key, bool paused,
                              const std::string& actor) {
    RegistryEdit edit;
    Transaction tx(conn, edit);
    if (!tx.begin() || !lock_store(tx, store_key, edit) ||
        !write_paused(tx, edit, paused, actor, edit.changed)) {
        return edit;
    }
    if (read_version(tx, edit, false)) {
        tx.commit();
    }
    return edit;
}

RegistryEdit set_store_route(const std::string& dsn, const std::string& store_key,
                             const std::string& db_key, uint64_t expected_version,
                             const std::string& actor) {
    PgConn conn(dsn, "storegate admin");
    return set_store_route(conn, store_key, db_key, expected_version, actor);
}

RegistryEdit set_store_route(const PgConn& conn, const std::string& store_key,
                             const std::string& db_key, uint64_t expected_version,
                             const std::string& actor) {
    RegistryEdit edit;
    Transaction tx(conn, edit);
    // The version row is locked first: every registry writer updates it, so no change can
    // slip in between the version check and the update.
    if (!tx.begin() || !read_version(tx, edit, true) || !lock_store(tx, store_key, edit)) {
        return edit;
    }
    if (edit.version != expected_version) {
        tx.fail(409, "registry version is " + std::to_string(edit.version) + ", not " +
                         std::to_string(expected_version) + ": read the route again");
        return edit;
    }
    if (!write_route(tx, edit, db_key, actor, edit.changed)) {
        return edit;
    }
    if (read_version(tx, edit, false)) {
        tx.commit();
    }
    return edit;
}

RegistryEdit switch_paused_store(const PgConn& conn, const std::string& store_key,
                                 const std::string& db_key, bool resume, const std::string& actor) {
    RegistryEdit edit;
    Transaction tx(conn, edit);
    if (!tx.begin() || !lock_store(tx, store_key, edit)) {
        return edit;
    }
    if (!edit.store.paused) {
        tx.fail(409,
                "store \"" + store_key + "\" is not paused any more: it was resumed meanwhile");
        return edit;
    }
    bool resumed = false;
    if (!write_route(tx, edit, db_key, actor, edit.changed) ||
        (resume && !write_paused(tx, edit, false, actor, resumed))) {
        return edit;
    }
    if (read_version(tx, edit, false)) {
        tx.commit();
    }
    return edit;
}

InstanceList list_instances(const std::string& dsn) {
    InstanceList out;
    PgConn conn(dsn, "storegate admin");
    if (!conn.ok()) {
        out.error = "cannot connect to the registry: " + conn.error();
        return out;
    }
    PgResult r = conn.exec(
        "SELECT i.id, i.address, i.admin_address, i.storegate_version, "
        "to_char(i.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
        "to_char(i.heartbeat_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
        "i.applied_version, extract(epoch FROM now() - i.heartbeat_at)::float8, v.version "
        "FROM storegate_registry_version v LEFT JOIN storegate_instances i ON true ORDER BY i.id");
    if (!r.ok()) {
        out.error = "registry query failed: " + r.error();
        return out;
    }
    for (int i = 0; i < r.rows(); ++i) {
        out.registry_version = to_u64(r.text(i, 8));
        if (r.is_null(i, 0)) {
            continue;  // no instance has registered: only the version row
        }
        out.rows.push_back({r.text(i, 0), r.text(i, 1), r.text(i, 2), r.text(i, 3), r.text(i, 4),
                            r.text(i, 5), to_u64(r.text(i, 6)),
                            std::strtod(r.text(i, 7).c_str(), nullptr)});
    }
    out.ok = true;
    return out;
}

}  // namespace storegate::proxy
