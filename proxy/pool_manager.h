// The pools of every db_key, created on first use and evicted, least recently used first, when
// there are more than pool.max_pools and a pool has no server connection in use. Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config/config.h"
#include "proxy/pool.h"

namespace storegate::proxy {

class PoolManager {
  public:
    PoolManager(int workers, Pool::PasswordSource passwords);

    std::shared_ptr<Pool> get(const std::string& db_key, const config::Config& config);
    std::vector<std::shared_ptr<Pool>> all() const;
    // Sweeps idle connections and evicts unused pools beyond the limit.
    void maintain(const config::Config& config);
    void apply(const config::Config& config);  // new settings after a reload

    static PoolSettings settings_for(const std::string& db_key, const config::Config& config);

  private:
    int workers_;
    Pool::PasswordSource passwords_;
    mutable std::mutex mutex_;
    std::map<std::string, std::shared_ptr<Pool>> pools_;
};

}  // namespace storegate::proxy
