// The control thread of the pause agreement (docs/registry.md "Pause agreement"): for every
// store the registry has paused, once this instance's table has the pause and no transaction
// of the store is in flight here, upserts (instance_id, store_id, version) into
// storegate_store_quiesced and notifies channel storegate_fleet, so that whoever paused the
// store learns of it at once. It wakes on every table change and when the last transaction
// of a paused store ends. It also records the instance's cancel-key tag in
// storegate_instances so other instances can forward CancelRequests here, and counts the
// pauses this instance applies and lifts (storegate_pause_events_total).
// Blocking libpq work on a thread of its own: worker threads never wait for the registry.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/uuid.h"
#include "proxy/metrics.h"
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
    QuiesceReporter(StoreControl& control, Metrics& metrics, QuiesceOptions options);
    ~QuiesceReporter();  // stop()
    QuiesceReporter(const QuiesceReporter&) = delete;
    QuiesceReporter& operator=(const QuiesceReporter&) = delete;

    void start();
    void stop();

  private:
    void run();
    // One pass; false when the connection failed.
    bool pass(registry::PgConn& conn);
    // Reads the stores the registry has paused into candidates_; false when the query failed.
    bool load_candidates(registry::PgConn& conn);
    // Reports `store` if it is due and quiesced here; false when the connection failed.
    bool check_store(registry::PgConn& conn, const Uuid& store);
    void count_pause_events(const std::unordered_set<Uuid, UuidHash>& paused_now);
    bool record_tag(registry::PgConn& conn);
    bool report(registry::PgConn& conn, const Uuid& store, uint64_t version);

    StoreControl& control_;
    Metrics& metrics_;
    QuiesceOptions options_;
    std::thread thread_;
    std::atomic<bool> stopping_{false};
    // Owned by the thread.
    bool tag_recorded_ = false;
    uint64_t seen_generation_ = 0;
    uint64_t loaded_generation_ = 0;  // the generation candidates_ was read at
    uint64_t seen_drains_ = 0;
    bool unfinished_ = false;              // a paused store is not reported yet: look again soon
    std::vector<std::string> candidates_;  // ids the registry had paused at the last query
    std::unordered_set<Uuid, UuidHash> paused_last_pass_;
    std::unordered_map<Uuid, uint64_t, UuidHash> reported_;
};

}  // namespace storegate::proxy
