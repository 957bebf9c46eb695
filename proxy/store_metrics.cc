#include "proxy/store_metrics.h"

#include <algorithm>

namespace storegate::proxy {

StoreTracker::Totals& StoreTracker::Totals::operator+=(const Totals& o) {
    transactions += o.transactions;
    queries += o.queries;
    micros += o.micros;
    return *this;
}

std::shared_ptr<StoreCounters> StoreTracker::get(const std::string& label) {
    std::lock_guard lock(mutex_);
    auto& tracked = stores_[label];
    if (!tracked.counters) {
        tracked.counters = std::make_shared<StoreCounters>();
    }
    return tracked.counters;
}

void StoreTracker::set_limit(size_t limit) {
    std::lock_guard lock(mutex_);
    limit_ = limit;
}

void StoreTracker::collect(std::vector<prometheus::MetricFamily>& out, Clock::time_point now) {
    std::lock_guard lock(mutex_);
    attribute(now);
    evict(now);
    admit(now);
    forget_unused();
    emit(out);
}

void StoreTracker::attribute(Clock::time_point now) {
    for (auto& [label, t] : stores_) {
        Totals current{t.counters->transactions.load(std::memory_order_relaxed),
                       t.counters->queries.load(std::memory_order_relaxed),
                       t.counters->transaction_micros.load(std::memory_order_relaxed)};
        t.delta = {current.transactions - t.seen.transactions, current.queries - t.seen.queries,
                   current.micros - t.seen.micros};
        t.seen = current;
        if (!t.admitted) {
            other_ += t.delta;
            continue;
        }
        t.exported += t.delta;
        if (t.delta.activity() > 0) {
            t.last_active = now;
        }
    }
}

void StoreTracker::evict(Clock::time_point now) {
    std::vector<Tracked*> admitted;
    size_t candidates = 0;
    for (auto& [label, t] : stores_) {
        if (t.admitted) {
            admitted.push_back(&t);
        } else if (t.delta.activity() > 0 && label != kOther) {
            ++candidates;
        }
    }
    std::sort(admitted.begin(), admitted.end(),
              [](const Tracked* a, const Tracked* b) { return a->last_active < b->last_active; });
    size_t evictions = admitted_ > limit_ ? admitted_ - limit_ : 0;
    for (Tracked* t : admitted) {
        bool over_limit = evictions > 0;
        bool make_room = candidates > 0 && now - t->last_active >= idle_before_eviction_;
        if (!over_limit && !make_room) {
            continue;
        }
        t->admitted = false;
        t->exported = {};
        --admitted_;
        if (over_limit) {
            --evictions;
        } else {
            --candidates;
        }
    }
}

void StoreTracker::admit(Clock::time_point now) {
    if (admitted_ >= limit_) {
        return;
    }
    std::vector<std::pair<uint64_t, Tracked*>> candidates;
    for (auto& [label, t] : stores_) {
        if (!t.admitted && t.delta.activity() > 0 && label != kOther) {
            candidates.emplace_back(t.delta.activity(), &t);
        }
    }
    std::sort(candidates.begin(), candidates.end(),
              [](const auto& a, const auto& b) { return a.first > b.first; });
    for (auto& [activity, t] : candidates) {
        if (admitted_ >= limit_) {
            break;
        }
        t->admitted = true;
        t->exported = {};
        t->last_active = now;
        ++admitted_;
    }
}

void StoreTracker::forget_unused() {
    // A store nobody holds and nobody exports costs nothing to recreate on its next use.
    std::erase_if(stores_, [](const auto& item) {
        const Tracked& t = item.second;
        return !t.admitted && t.counters.use_count() == 1 &&
               t.counters->clients.load(std::memory_order_relaxed) == 0;
    });
}

namespace {

prometheus::MetricFamily family(std::string name, std::string help, prometheus::MetricType type) {
    prometheus::MetricFamily f;
    f.name = std::move(name);
    f.help = std::move(help);
    f.type = type;
    return f;
}

prometheus::ClientMetric sample(std::string_view store, double value, bool counter) {
    prometheus::ClientMetric m;
    m.label.push_back({"store", std::string(store)});
    (counter ? m.counter.value : m.gauge.value) = value;
    return m;
}

}  // namespace

void StoreTracker::emit(std::vector<prometheus::MetricFamily>& out) const {
    using prometheus::MetricType;
    auto tx = family("storegate_store_transactions_total",
                     "Transactions finished, per store (the busiest stores; the rest as other)",
                     MetricType::Counter);
    auto queries =
        family("storegate_store_queries_total", "Queries finished, per store", MetricType::Counter);
    auto seconds = family("storegate_store_transaction_seconds_total",
                          "Time spent in transactions, per store", MetricType::Counter);
    auto clients = family("storegate_store_client_connections",
                          "Client connections routed to the store", MetricType::Gauge);
    int64_t other_clients = 0;
    for (const auto& [label, t] : stores_) {
        int64_t n = t.counters->clients.load(std::memory_order_relaxed);
        if (!t.admitted) {
            other_clients += n;
            continue;
        }
        tx.metric.push_back(sample(label, static_cast<double>(t.exported.transactions), true));
        queries.metric.push_back(sample(label, static_cast<double>(t.exported.queries), true));
        seconds.metric.push_back(sample(label, static_cast<double>(t.exported.micros) / 1e6, true));
        clients.metric.push_back(sample(label, static_cast<double>(n), false));
    }
    tx.metric.push_back(sample(kOther, static_cast<double>(other_.transactions), true));
    queries.metric.push_back(sample(kOther, static_cast<double>(other_.queries), true));
    seconds.metric.push_back(sample(kOther, static_cast<double>(other_.micros) / 1e6, true));
    clients.metric.push_back(sample(kOther, static_cast<double>(other_clients), false));
    for (auto* f : {&tx, &queries, &seconds, &clients}) {
        out.push_back(std::move(*f));
    }
}

}  // namespace storegate::proxy
