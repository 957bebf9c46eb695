// The in-memory routing table every session consults. Thread-safe: lookups take a shared lock
// (a session looks up once per connection or store switch, never per message), updates an
// exclusive one and cost O(1) per changed row whatever the registry's size.
//
// Sized for a million stores: the store index is an open-addressing table of pointers and the
// slug index points into the stores' own slug strings instead of copying them.
#pragma once

#include <boost/unordered/unordered_flat_map.hpp>

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
    // Null when the store has no routing row, or its db_key is unknown or not "active". The
    // store's own status and paused flag are left to the caller.
    std::shared_ptr<const Backend> backend;
};

class RoutingTable {
  public:
    // Store by uuid (any case), or by slug as an alias. Empty when neither matches.
    std::optional<Route> find_store(std::string_view key) const;
    // Tenant by uuid or slug.
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
    void remove_tenant(const Uuid& id);
    // The registry version the table reflects; never moves backwards.
    void set_version(uint64_t version);

    uint64_t version() const;
    // How many changes the table has taken (replace() and each upsert_ or remove_ call). A
    // change is counted in the critical section that makes it visible, so a count read after
    // a lookup covers every change the lookup saw, and a listener reads a count that covers
    // the change it was called for.
    uint64_t changes() const;
    size_t store_count() const;
    std::vector<std::shared_ptr<const Store>> stores() const;
    std::vector<std::shared_ptr<const Backend>> backends() const;
    std::vector<std::shared_ptr<const Tenant>> tenants() const;

    // Called after every change (outside the table's lock, on the updating thread), so that
    // sessions can re-check their routes. Register listeners before updates start.
    using Listener = std::function<void()>;
    void on_change(Listener listener);

  private:
    using StoreMap = boost::unordered_flat_map<Uuid, std::shared_ptr<const Store>, UuidHash>;
    // Keys view the slug inside the store object that stores_ holds for the mapped id.
    using SlugMap = boost::unordered_flat_map<std::string_view, Uuid>;
    using BackendMap = std::unordered_map<std::string, std::shared_ptr<const Backend>>;

    std::shared_ptr<const Store> find_store_locked(std::string_view key) const;
    static void index_store(StoreMap& stores, SlugMap& slugs, std::shared_ptr<const Store> store);
    static void unindex_store(StoreMap& stores, SlugMap& slugs, const Uuid& id);
    void unindex_tenant_locked(const Uuid& id);
    std::shared_ptr<const Backend> publish_backend(const Backend& row, const BackendMap& current);
    void notify();

    mutable std::shared_mutex mutex_;
    uint64_t version_ = 0;
    uint64_t changes_ = 0;
    uint64_t next_generation_ = 1;
    StoreMap stores_;
    SlugMap slugs_;
    BackendMap backends_;
    std::unordered_map<Uuid, std::shared_ptr<const Tenant>, UuidHash> tenants_;
    std::unordered_map<std::string, Uuid> tenant_slugs_;
    std::vector<Listener> listeners_;
};

}  // namespace storegate::registry
