// The file registry: the same model read from a TOML file, for trying storegate without a
// registry database. Format (see docs/registry.md "File registry"):
//   version = 1  (optional; reported as the registry version)
//   [[backends]] db_key, kind, host, port, database_name, username, password_secret_ref,
//                status (active|disabled, default active), sslmode (optional)
//   [[tenants]]  id, name, slug, common_db_key
//   [[stores]]   id, tenant_id, slug, name, status, db_key, paused (optional bool)
// Unknown keys, bad uuids or kinds, duplicate ids/slugs/db_keys and references to unknown
// db_keys or tenants are errors, all reported at once.
#pragma once

#include <string>
#include <vector>

#include "registry/model.h"
#include "registry/routing_table.h"

namespace storegate::registry {

struct FileLoadResult {
    Snapshot snapshot;
    std::vector<std::string> errors;  // "path:line: message"; snapshot unusable if not empty
};

FileLoadResult load_file(const std::string& path);

// Loads `path` into `table` (start-up, and SIGHUP reloads). On errors the table is left as it
// was and the errors are returned.
std::vector<std::string> load_file_into(const std::string& path, RoutingTable& table);

}  // namespace storegate::registry
