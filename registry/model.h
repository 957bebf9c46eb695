// The routing model: store -> db_key -> backend, plus tenants and their common db_key.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/uuid.h"

namespace storegate::registry {

enum class BackendKind { kShared, kDedicated };

// One row of db_connections. Immutable once published: a change publishes a new object with a
// higher generation, so pools can tell that their server connections are stale.
struct Backend {
    std::string db_key;
    BackendKind kind = BackendKind::kShared;
    std::string host;  // a hostname, an IP, or an absolute path to a Unix socket directory
    int port = 5432;
    std::string database_name;
    std::string username;
    std::string password_secret_ref;  // env:NAME, file:PATH (plain: see secrets.h)
    std::string status = "active";    // active | disabled
    std::string sslmode;              // empty: the configured default
    uint64_t generation = 0;
};

struct Tenant {
    Uuid id;
    std::string name;
    std::string slug;
    std::string common_db_key;  // empty when the tenant has none
};

struct Store {
    Uuid id;
    Uuid tenant_id;
    std::string slug;
    std::string name;
    std::string status = "active";
    std::string db_key;  // empty when the store has no routing row
    bool paused = false;
};

// A whole registry as loaded at once (start-up, resync, file registry).
struct Snapshot {
    uint64_t version = 0;
    std::vector<Backend> backends;
    std::vector<Tenant> tenants;
    std::vector<Store> stores;
};

}  // namespace storegate::registry
