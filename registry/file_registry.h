// The file registry: the same model read from a TOML file, for trying storegate without a
// registry database. Format (see README "File registry"):
//   [[backends]] db_key, kind, host, port, database_name, username, password_secret_ref
//   [[tenants]]  id, name, slug, common_db_key
//   [[stores]]   id, tenant_id, slug, name, status, db_key
#pragma once

#include <string>
#include <vector>

#include "registry/model.h"

namespace storegate::registry {

struct FileLoadResult {
    Snapshot snapshot;
    std::vector<std::string> errors;  // "path:line: message"; snapshot unusable if not empty
};

FileLoadResult load_file(const std::string& path);

}  // namespace storegate::registry
