// Per-store series with bounded cardinality. Sessions count into a StoreCounters of their store
// with relaxed atomics (no label lookup per transaction); at scrape time the tracker decides
// which stores get a series of their own: while there is room (admin.store_metrics_limit), the
// busiest stores since the last scrape are admitted; everything else is summed under
// store="other". An admitted store keeps its series until it has been idle for a while and a
// busier store needs the slot. Each exported series only ever grows: a store's series starts
// at zero when admitted (its earlier activity stays in "other"), and activity after its
// eviction goes to "other" again.
// Thread-safe: get() runs on worker threads, collect() on the admin thread.
#pragma once

#include <prometheus/metric_family.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "proxy/net.h"

namespace storegate::proxy {

struct StoreCounters {
    std::atomic<uint64_t> transactions{0};
    std::atomic<uint64_t> queries{0};
    std::atomic<uint64_t> transaction_micros{0};
    std::atomic<int64_t> clients{0};
};

class StoreTracker {
  public:
    static constexpr std::string_view kOther = "other";

    StoreTracker(size_t limit, std::chrono::seconds idle_before_eviction)
        : limit_(limit), idle_before_eviction_(idle_before_eviction) {}

    // The counters of the store labelled `label` (its slug); created on first use.
    std::shared_ptr<StoreCounters> get(const std::string& label);
    void set_limit(size_t limit);
    // Attributes the activity since the previous call, admits and evicts stores, and appends
    // the per-store families to `out`.
    void collect(std::vector<prometheus::MetricFamily>& out, Clock::time_point now);

  private:
    struct Totals {
        uint64_t transactions = 0;
        uint64_t queries = 0;
        uint64_t micros = 0;
        Totals& operator+=(const Totals& o);
        uint64_t activity() const { return transactions + queries; }
    };
    struct Tracked {
        std::shared_ptr<StoreCounters> counters;
        Totals seen;      // counter values already attributed somewhere
        Totals exported;  // this store's own series, while admitted
        Totals delta;     // activity since the previous collect
        bool admitted = false;
        Clock::time_point last_active;
    };

    void attribute(Clock::time_point now);
    void evict(Clock::time_point now);
    void admit(Clock::time_point now);
    void forget_unused();
    void emit(std::vector<prometheus::MetricFamily>& out) const;

    std::mutex mutex_;
    size_t limit_;
    std::chrono::seconds idle_before_eviction_;
    std::unordered_map<std::string, Tracked> stores_;
    size_t admitted_ = 0;
    Totals other_;
};

}  // namespace storegate::proxy
