#include "identity/tenant.h"

#include <optional>

#include "common/uuid.h"

namespace storegate::identity {

namespace {

constexpr const char* kInvalidParameter = "22023";

}  // namespace

std::string find_tenant(Db& db, const std::string& key) {
    if (std::optional<Uuid> uuid = Uuid::parse(key)) {
        return uuid->to_string();
    }
    Rows rows = db.query("SELECT id::text FROM identity.registry_tenants WHERE slug = $1", {key});
    if (rows.size() != 1) {
        throw DbError("unknown tenant " + key, kInvalidParameter);
    }
    return std::string(rows.text(0, 0));
}

std::string find_store(Db& db, const std::string& tenant_id, const std::string& key) {
    if (std::optional<Uuid> uuid = Uuid::parse(key)) {
        return uuid->to_string();
    }
    Rows rows = db.query(
        "SELECT id::text FROM identity.registry_stores WHERE slug = $1 AND tenant_id = $2::uuid",
        {key, tenant_id});
    if (rows.size() != 1) {
        throw DbError("unknown store " + key + " for tenant " + tenant_id, kInvalidParameter);
    }
    return std::string(rows.text(0, 0));
}

int default_calling_code(Db& db, const std::string& tenant_id) {
    Rows rows = db.query(
        "SELECT coalesce(default_calling_code, '0') FROM identity.tenant_settings($1::uuid)",
        {tenant_id});
    return std::stoi(std::string(rows.text(0, 0)));
}

}  // namespace storegate::identity
