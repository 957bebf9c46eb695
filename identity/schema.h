// The identity schema's versioned migrations (identity/sql/NNN_name.sql, compiled in) and
// their installer.
#pragma once

#include <span>
#include <string_view>

#include "identity/db.h"

namespace storegate::identity {

struct Migration {
    int version;
    std::string_view name;
    std::string_view sql;
};

// Every migration, in version order.
std::span<const Migration> migrations();

struct InstallResult {
    int from_version = 0;
    int to_version = 0;
};

// Installs or upgrades the identity schema in one transaction. An advisory lock serialises
// concurrent runs, so each migration is applied exactly once. The database must hold the
// registry's tenants and stores tables. Throws DbError (nothing is changed then).
InstallResult install_schema(Db& db);

}  // namespace storegate::identity
