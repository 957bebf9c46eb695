// The in-memory routing table every session consults. Thread-safe: lookups take a shared lock
// (a session looks up once per connection or store switch, never per message), updates an
// exclusive one and cost O(1) per changed row whatever the registry's size.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "registry/model.h"

namespace storegate::registry {

struct Route {
    std::shared_ptr<const Store> store;
    std::shared_ptr<const Backend> backend;  // null when the store has no usable routing row
};

class RoutingTable {
public:
    // Store by uuid, or by slug as an alias.
    std::optional<Route> find_store(std::string_view key) const;
    std::shared_ptr<const Tenant> find_tenant(std::string_view key) const;
    std::shared_ptr<const Backend> find_backend(std::string_view db_key) const;

    // Replaces everything (start-up and resync). Backends whose row is unchanged keep their
    // generation, so their pools survive a resync.
    void replace(const Snapshot& snapshot);
    void upsert_store(const Store& store);
    void remove_store(const Uuid& id);
    void upsert_backend(const Backend& backend);
    void remove_backend(const std::string& db_key);
    void upsert_tenant(const Tenant& tenant);
    void set_version(uint64_t version);

    uint64_t version() const;
    size_t store_count() const;
    std::vector<std::shared_ptr<const Store>> stores() const;
    std::vector<std::shared_ptr<const Backend>> backends() const;

    // Called after every change with the ids of stores whose route may have changed.
    using Listener = std::function<void()>;
    void on_change(Listener listener);

private:
    mutable std::shared_mutex mutex_;
    uint64_t version_ = 0;
    uint64_t next_generation_ = 1;
    std::unordered_map<Uuid, std::shared_ptr<const Store>, UuidHash> stores_;
    std::unordered_map<std::string, Uuid> slugs_;
    std::unordered_map<std::string, std::shared_ptr<const Backend>> backends_;
    std::unordered_map<Uuid, std::shared_ptr<const Tenant>, UuidHash> tenants_;
    std::unordered_map<std::string, Uuid> tenant_slugs_;
    std::vector<Listener> listeners_;
};

}  // namespace storegate::registry
