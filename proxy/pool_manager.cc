#include "proxy/pool_manager.h"

#include <algorithm>

namespace storegate::proxy {

PoolManager::PoolManager(int workers, Pool::PasswordSource passwords)
    : workers_(workers), passwords_(std::move(passwords)) {}

PoolSettings PoolManager::settings_for(const std::string& db_key, const config::Config& config) {
    PoolSettings s;
    s.size = config.size_for(db_key);
    s.wait_timeout = config.pool.wait_timeout;
    s.idle_timeout = config.pool.idle_timeout;
    s.lifetime = config.pool.lifetime;
    s.connect.timeout = config.pool.connect_timeout;
    s.connect.max_message_size = config.server.max_message_size;
    s.connect.default_sslmode = config.tls.server_sslmode;
    std::string tls_error;  // a bad tls.server_ca_file is refused with the whole config
    s.connect.tls = make_backend_tls(config.tls, tls_error);
    return s;
}

std::shared_ptr<Pool> PoolManager::get(const std::string& db_key, const config::Config& config) {
    std::lock_guard lock(mutex_);
    auto it = pools_.find(db_key);
    if (it != pools_.end()) {
        return it->second;
    }
    auto pool = std::make_shared<Pool>(db_key, workers_, settings_for(db_key, config), passwords_);
    pools_.emplace(db_key, pool);
    return pool;
}

std::vector<std::shared_ptr<Pool>> PoolManager::all() const {
    std::lock_guard lock(mutex_);
    std::vector<std::shared_ptr<Pool>> out;
    out.reserve(pools_.size());
    for (const auto& [key, pool] : pools_) {
        out.push_back(pool);
    }
    return out;
}

void PoolManager::maintain(const config::Config& config) {
    auto pools = all();
    for (const auto& pool : pools) {
        pool->sweep();
    }
    if (pools.size() <= static_cast<size_t>(config.pool.max_pools)) {
        return;
    }
    std::vector<std::shared_ptr<Pool>> unused;
    for (const auto& pool : pools) {
        auto s = pool->stats();
        if (s.active == 0 && s.waiting == 0) {
            unused.push_back(pool);
        }
    }
    std::sort(unused.begin(), unused.end(),
              [](const auto& a, const auto& b) { return a->last_used() < b->last_used(); });
    size_t excess = pools.size() - static_cast<size_t>(config.pool.max_pools);
    std::lock_guard lock(mutex_);
    for (size_t i = 0; i < unused.size() && i < excess; ++i) {
        unused[i]->close_idle();
        pools_.erase(unused[i]->db_key());
    }
}

void PoolManager::apply(const config::Config& config) {
    for (const auto& pool : all()) {
        pool->update_settings(settings_for(pool->db_key(), config));
    }
}

}  // namespace storegate::proxy
