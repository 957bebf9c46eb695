#include "registry/routing_table.h"

#include <mutex>

namespace storegate::registry {

namespace {

// The fields a server connection was opened with. When none of them changed, connections made
// for the old row are still right for the new one, so the backend keeps its generation.
bool same_connection(const Backend& a, const Backend& b) {
    return a.host == b.host && a.port == b.port && a.database_name == b.database_name &&
           a.username == b.username && a.password_secret_ref == b.password_secret_ref &&
           a.sslmode == b.sslmode;
}

bool usable(const Backend& backend) {
    return backend.status == "active";
}

template <typename Map>
std::vector<typename Map::mapped_type> values_of(const Map& map) {
    std::vector<typename Map::mapped_type> out;
    out.reserve(map.size());
    for (const auto& entry : map) {
        out.push_back(entry.second);
    }
    return out;
}

}  // namespace

void RoutingTable::index_store(StoreMap& stores, SlugMap& slugs,
                               std::shared_ptr<const Store> store) {
    unindex_store(stores, slugs, store->id);
    if (!store->slug.empty()) {
        // Slugs are unique in the registry, but rows arrive one at a time: a slug that moved to
        // this store may still be indexed for its previous owner, which loses the alias.
        slugs.erase(std::string_view(store->slug));
        slugs.emplace(std::string_view(store->slug), store->id);
    }
    stores.insert_or_assign(store->id, std::move(store));
}

void RoutingTable::unindex_store(StoreMap& stores, SlugMap& slugs, const Uuid& id) {
    auto it = stores.find(id);
    if (it == stores.end()) {
        return;
    }
    // The index key views the old object's slug, so it goes before the object does.
    auto slug = slugs.find(std::string_view(it->second->slug));
    if (slug != slugs.end() && slug->second == id) {
        slugs.erase(slug);
    }
    stores.erase(it);
}

std::shared_ptr<const Backend> RoutingTable::publish_backend(const Backend& row,
                                                             const BackendMap& current) {
    auto published = std::make_shared<Backend>(row);
    auto old = current.find(row.db_key);
    if (old != current.end() && same_connection(*old->second, row)) {
        published->generation = old->second->generation;
    } else {
        published->generation = next_generation_++;
    }
    return published;
}

std::shared_ptr<const Store> RoutingTable::find_store_locked(std::string_view key) const {
    if (auto id = Uuid::parse(key)) {
        if (auto it = stores_.find(*id); it != stores_.end()) {
            return it->second;
        }
    }
    auto slug = slugs_.find(key);
    if (slug == slugs_.end()) {
        return nullptr;
    }
    auto it = stores_.find(slug->second);
    return it == stores_.end() ? nullptr : it->second;
}

std::optional<Route> RoutingTable::find_store(std::string_view key) const {
    std::shared_lock lock(mutex_);
    std::shared_ptr<const Store> store = find_store_locked(key);
    if (store == nullptr) {
        return std::nullopt;
    }
    Route route{store, nullptr};
    if (!store->db_key.empty()) {
        auto it = backends_.find(store->db_key);
        if (it != backends_.end() && usable(*it->second)) {
            route.backend = it->second;
        }
    }
    return route;
}

std::shared_ptr<const Tenant> RoutingTable::find_tenant(std::string_view key) const {
    std::shared_lock lock(mutex_);
    if (auto id = Uuid::parse(key)) {
        if (auto it = tenants_.find(*id); it != tenants_.end()) {
            return it->second;
        }
    }
    auto slug = tenant_slugs_.find(std::string(key));
    if (slug == tenant_slugs_.end()) {
        return nullptr;
    }
    auto it = tenants_.find(slug->second);
    return it == tenants_.end() ? nullptr : it->second;
}

std::shared_ptr<const Backend> RoutingTable::find_backend(std::string_view db_key) const {
    std::shared_lock lock(mutex_);
    auto it = backends_.find(std::string(db_key));
    return it == backends_.end() ? nullptr : it->second;
}

void RoutingTable::replace(const Snapshot& snapshot) {
    // The store maps are built without the lock: at a million stores this is the slow part, and
    // sessions keep looking up the old table meanwhile.
    StoreMap stores;
    SlugMap slugs;
    stores.reserve(snapshot.stores.size());
    slugs.reserve(snapshot.stores.size());
    for (const Store& store : snapshot.stores) {
        index_store(stores, slugs, std::make_shared<const Store>(store));
    }
    decltype(tenants_) tenants;
    decltype(tenant_slugs_) tenant_slugs;
    for (const Tenant& tenant : snapshot.tenants) {
        tenants[tenant.id] = std::make_shared<const Tenant>(tenant);
        if (!tenant.slug.empty()) {
            tenant_slugs[tenant.slug] = tenant.id;
        }
    }
    {
        std::unique_lock lock(mutex_);
        BackendMap backends;
        for (const Backend& row : snapshot.backends) {
            backends[row.db_key] = publish_backend(row, backends_);
        }
        stores_.swap(stores);
        slugs_.swap(slugs);
        backends_.swap(backends);
        tenants_.swap(tenants);
        tenant_slugs_.swap(tenant_slugs);
        version_ = std::max(version_, snapshot.version);
        ++changes_;
    }
    // The previous maps are released here, outside the lock.
    notify();
}

void RoutingTable::upsert_store(const Store& store) {
    auto object = std::make_shared<const Store>(store);
    std::shared_ptr<const Store> previous;
    {
        std::unique_lock lock(mutex_);
        if (auto it = stores_.find(store.id); it != stores_.end()) {
            previous = it->second;  // released after the lock, with its slug index entry gone
        }
        index_store(stores_, slugs_, std::move(object));
        ++changes_;
    }
    notify();
}

void RoutingTable::remove_store(const Uuid& id) {
    std::shared_ptr<const Store> previous;
    {
        std::unique_lock lock(mutex_);
        if (auto it = stores_.find(id); it != stores_.end()) {
            previous = it->second;
        }
        unindex_store(stores_, slugs_, id);
        ++changes_;
    }
    notify();
}

void RoutingTable::upsert_backend(const Backend& backend) {
    {
        std::unique_lock lock(mutex_);
        backends_[backend.db_key] = publish_backend(backend, backends_);
        ++changes_;
    }
    notify();
}

void RoutingTable::remove_backend(const std::string& db_key) {
    {
        std::unique_lock lock(mutex_);
        backends_.erase(db_key);
        ++changes_;
    }
    notify();
}

void RoutingTable::unindex_tenant_locked(const Uuid& id) {
    auto it = tenants_.find(id);
    if (it == tenants_.end()) {
        return;
    }
    auto slug = tenant_slugs_.find(it->second->slug);
    if (slug != tenant_slugs_.end() && slug->second == id) {
        tenant_slugs_.erase(slug);
    }
    tenants_.erase(it);
}

void RoutingTable::upsert_tenant(const Tenant& tenant) {
    {
        std::unique_lock lock(mutex_);
        unindex_tenant_locked(tenant.id);
        tenants_[tenant.id] = std::make_shared<const Tenant>(tenant);
        if (!tenant.slug.empty()) {
            tenant_slugs_[tenant.slug] = tenant.id;
        }
        ++changes_;
    }
    notify();
}

void RoutingTable::remove_tenant(const Uuid& id) {
    {
        std::unique_lock lock(mutex_);
        unindex_tenant_locked(id);
        ++changes_;
    }
    notify();
}

void RoutingTable::set_version(uint64_t version) {
    std::unique_lock lock(mutex_);
    version_ = std::max(version_, version);
}

uint64_t RoutingTable::version() const {
    std::shared_lock lock(mutex_);
    return version_;
}

uint64_t RoutingTable::changes() const {
    std::shared_lock lock(mutex_);
    return changes_;
}

size_t RoutingTable::store_count() const {
    std::shared_lock lock(mutex_);
    return stores_.size();
}

std::vector<std::shared_ptr<const Store>> RoutingTable::stores() const {
    std::shared_lock lock(mutex_);
    return values_of(stores_);
}

std::vector<std::shared_ptr<const Backend>> RoutingTable::backends() const {
    std::shared_lock lock(mutex_);
    return values_of(backends_);
}

std::vector<std::shared_ptr<const Tenant>> RoutingTable::tenants() const {
    std::shared_lock lock(mutex_);
    return values_of(tenants_);
}

void RoutingTable::on_change(Listener listener) {
    std::unique_lock lock(mutex_);
    listeners_.push_back(std::move(listener));
}

void RoutingTable::notify() {
    std::vector<Listener> listeners;
    {
        std::shared_lock lock(mutex_);
        listeners = listeners_;
    }
    for (const Listener& listener : listeners) {
        listener();
    }
}

}  // namespace storegate::registry
