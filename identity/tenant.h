// Looks up the tenant and store a command names, by uuid or by slug, in the registry tables the
// identity schema reads (identity.registry_tenants / registry_stores).
#pragma once

#include <string>

#include "identity/db.h"

namespace storegate::identity {

// The tenant's uuid for a uuid or slug; throws DbError (22023) for an unknown slug. A uuid is
// returned as given: the SQL functions report unknown tenants themselves.
std::string find_tenant(Db& db, const std::string& key);

// The store's uuid for a uuid or a slug of one of the tenant's stores; throws DbError (22023).
std::string find_store(Db& db, const std::string& tenant_id, const std::string& key);

// The tenant's default country calling code, 0 when it has none. Throws DbError.
int default_calling_code(Db& db, const std::string& tenant_id);

}  // namespace storegate::identity
