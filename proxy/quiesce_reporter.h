// The control thread of the pause agreement (docs/registry.md "Pause agreement"): for every
// store the registry has paused, once this instance's table has the pause and no transaction
// of the store is in flight here, upserts (instance_id, store_id, version) into
// storegate_store_quiesced. It also records the instance's cancel-key tag in
// storegate_instances so other instances can forward CancelRequests here.
// Blocking libpq work on a thread of its own: worker threads never wait for the registry.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "common/uuid.h"
#include "proxy/store_control.h"

namespace storegate::registry {
class PgConn;
}

namespace storegate::proxy {

struct QuiesceOptions {
    std::string dsn;
    std::string instance_id;
    uint8_t instance_tag = 0;
};

class QuiesceReporter {
  public:
    QuiesceReporter(StoreControl& control, QuiesceOptions options);
    ~QuiesceReporter();  // stop()
    QuiesceReporter(const QuiesceReporter&) = delete;
    QuiesceReporter& operator=(const QuiesceReporter&) = delete;

    void start();
    void stop();

  private:
    void run();
    // One pass; false when the connection failed.
    bool pass(registry::PgConn& conn);
    bool record_tag(registry::PgConn& conn);
    bool report(registry::PgConn& conn, const Uuid& store, uint64_t version);

    StoreControl& control_;
    QuiesceOptions options_;
    std::thread thread_;
    std::atomic<bool> stopping_{false};
    // Owned by the thread.
    bool tag_recorded_ = false;
    uint64_t seen_generation_ = 0;
    std::unordered_set<Uuid, UuidHash> paused_last_pass_;
    std::unordered_map<Uuid, uint64_t, UuidHash> reported_;
};

}  // namespace storegate::proxy
