#include "registry/pg_rows.h"

#include <charconv>

namespace storegate::registry {

const char* const kBackendSelect =
    "SELECT db_key, kind, host, port, database_name, username, password_secret_ref, status, "
    "coalesce(sslmode, '') FROM db_connections";
const char* const kTenantSelect =
    "SELECT id, name, coalesce(slug, ''), coalesce(common_db_key, '') FROM tenants";
const char* const kStoreSelect =
    "SELECT s.id, s.tenant_id, s.slug, s.name, s.status, s.paused, coalesce(r.db_key, '') "
    "FROM stores s LEFT JOIN store_db_routing r ON r.store_id = s.id";
const char* const kBackendByKey = " WHERE db_key = $1";
const char* const kTenantById = " WHERE id = $1::uuid";
const char* const kStoreById = " WHERE s.id = $1::uuid";
const char* const kStoreBySlug = " WHERE s.slug = $1";

namespace {

std::optional<Uuid> uuid_at(const PgResult& r, int row, int column, std::string& error) {
    std::string text = r.text(row, column);
    auto id = Uuid::parse(text);
    if (!id) {
        error = "registry row has an invalid uuid \"" + text + "\"";
    }
    return id;
}

}  // namespace

std::optional<Backend> backend_from_row(const PgResult& r, int row, std::string& error) {
    Backend b;
    b.db_key = r.text(row, 0);
    std::string kind = r.text(row, 1);
    if (kind != "shared" && kind != "dedicated") {
        error = "db_connections row " + b.db_key + " has unknown kind \"" + kind + "\"";
        return std::nullopt;
    }
    b.kind = kind == "shared" ? BackendKind::kShared : BackendKind::kDedicated;
    b.host = r.text(row, 2);
    std::string port = r.text(row, 3);
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), b.port);
    if (ec != std::errc() || end != port.data() + port.size() || b.port < 1 || b.port > 65535) {
        error = "db_connections row " + b.db_key + " has invalid port \"" + port + "\"";
        return std::nullopt;
    }
    b.database_name = r.text(row, 4);
    b.username = r.text(row, 5);
    b.password_secret_ref = r.text(row, 6);
    b.status = r.text(row, 7);
    b.sslmode = r.text(row, 8);
    return b;
}

std::optional<Tenant> tenant_from_row(const PgResult& r, int row, std::string& error) {
    auto id = uuid_at(r, row, 0, error);
    if (!id) {
        return std::nullopt;
    }
    return Tenant{*id, r.text(row, 1), r.text(row, 2), r.text(row, 3)};
}

std::optional<Store> store_from_row(const PgResult& r, int row, std::string& error) {
    auto id = uuid_at(r, row, 0, error);
    auto tenant_id = id ? uuid_at(r, row, 1, error) : std::nullopt;
    if (!id || !tenant_id) {
        return std::nullopt;
    }
    Store s;
    s.id = *id;
    s.tenant_id = *tenant_id;
    s.slug = r.text(row, 2);
    s.name = r.text(row, 3);
    s.status = r.text(row, 4);
    s.paused = r.text(row, 5) == "t";
    s.db_key = r.text(row, 6);
    return s;
}

namespace {

template <typename T, typename Convert>
std::string append_rows(const PgResult& r, std::vector<T>& out, Convert convert) {
    std::string first_error;
    out.reserve(out.size() + r.rows());
    for (int row = 0; row < r.rows(); ++row) {
        std::string error;
        if (auto value = convert(r, row, error)) {
            out.push_back(std::move(*value));
        } else if (first_error.empty()) {
            first_error = error;
        }
    }
    return first_error;
}

}  // namespace

std::string append_backends(const PgResult& r, std::vector<Backend>& out) {
    return append_rows(r, out, backend_from_row);
}

std::string append_tenants(const PgResult& r, std::vector<Tenant>& out) {
    return append_rows(r, out, tenant_from_row);
}

std::string append_stores(const PgResult& r, std::vector<Store>& out) {
    return append_rows(r, out, store_from_row);
}

}  // namespace storegate::registry
