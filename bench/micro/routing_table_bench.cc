// Store lookups in a routing table of a million stores: the lookup every new client connection
// (and every store switch in transaction pooling) pays, the cost of loading the whole table,
// and the cost of applying one changed row.
#include <benchmark/benchmark.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "registry/routing_table.h"

namespace storegate::bench {
namespace {

constexpr int kStores = 1'000'000;
constexpr int kSharedBackends = 50;

uint64_t mix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

// A version-4-looking uuid derived from `n`, so every run builds the same registry.
Uuid store_uuid(uint64_t n) {
    Uuid id{mix(n), mix(n ^ 0x5555555555555555ULL)};
    id.hi = (id.hi & ~0xf000ULL) | 0x4000ULL;
    id.lo = (id.lo & ~(0xc0ULL << 56)) | (0x80ULL << 56);
    return id;
}

registry::Snapshot million_store_snapshot() {
    registry::Snapshot snapshot;
    snapshot.version = 1;
    for (int i = 0; i < kSharedBackends; ++i) {
        registry::Backend b;
        b.db_key = "shared" + std::to_string(i);
        b.host = "10.0.0." + std::to_string(i + 1);
        b.database_name = "shared_db";
        b.username = "app";
        b.password_secret_ref = "env:SHARED_PW";
        snapshot.backends.push_back(b);
    }
    registry::Tenant tenant;
    tenant.id = store_uuid(~0ULL);
    tenant.name = "Bench Tenant";
    tenant.slug = "bench";
    snapshot.tenants.push_back(tenant);
    snapshot.stores.reserve(kStores);
    for (int i = 0; i < kStores; ++i) {
        registry::Store s;
        s.id = store_uuid(i);
        s.tenant_id = tenant.id;
        s.slug = "store-" + std::to_string(i);
        s.name = "Store " + std::to_string(i);
        s.db_key = "shared" + std::to_string(i % kSharedBackends);
        snapshot.stores.push_back(std::move(s));
    }
    return snapshot;
}

size_t resident_bytes() {
    std::ifstream statm("/proc/self/statm");
    size_t pages = 0;
    size_t resident = 0;
    statm >> pages >> resident;
    return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

// Built once for all lookup benchmarks; the load benchmark builds its own.
registry::RoutingTable& shared_table() {
    static registry::RoutingTable* table = [] {
        auto* t = new registry::RoutingTable();
        t->replace(million_store_snapshot());
        return t;
    }();
    return *table;
}

// Keys in a random order so lookups miss the CPU caches as they would with many clients.
std::vector<std::string> shuffled_keys(bool slugs, size_t count) {
    std::vector<std::string> keys;
    keys.reserve(count);
    std::mt19937_64 rng(42);
    std::uniform_int_distribution<int> pick(0, kStores - 1);
    for (size_t i = 0; i < count; ++i) {
        int n = pick(rng);
        keys.push_back(slugs ? "store-" + std::to_string(n) : store_uuid(n).to_string());
    }
    return keys;
}

void lookup(benchmark::State& state, const std::vector<std::string>& keys, bool expect_found) {
    auto& table = shared_table();
    size_t i = 0;
    int64_t found = 0;
    for (auto _ : state) {
        auto route = table.find_store(keys[i]);
        found += route.has_value() ? 1 : 0;
        i = i + 1 == keys.size() ? 0 : i + 1;
    }
    if ((found == state.iterations()) != expect_found) {
        state.SkipWithError("lookup results differ from what the registry holds");
    }
    state.SetItemsProcessed(state.iterations());
}

void BM_FindStoreByUuid1M(benchmark::State& state) {
    static const auto keys = shuffled_keys(false, 1 << 16);
    lookup(state, keys, true);
}
void BM_FindStoreBySlug1M(benchmark::State& state) {
    static const auto keys = shuffled_keys(true, 1 << 16);
    lookup(state, keys, true);
}
void BM_FindStoreUnknown1M(benchmark::State& state) {
    static const std::vector<std::string> keys = {store_uuid(kStores + 7).to_string()};
    lookup(state, keys, false);
}
BENCHMARK(BM_FindStoreByUuid1M);
BENCHMARK(BM_FindStoreBySlug1M);
BENCHMARK(BM_FindStoreUnknown1M);
// Readers on both cores at once: lookups take a shared lock.
BENCHMARK(BM_FindStoreByUuid1M)->Threads(2);

// One changed row (a store moved to another backend) applied to the million-store table.
void BM_UpsertOneStore1M(benchmark::State& state) {
    auto& table = shared_table();
    registry::Store s;
    s.id = store_uuid(123457);
    s.tenant_id = store_uuid(~0ULL);
    s.slug = "store-123457";
    s.name = "Store 123457";
    int flip = 0;
    for (auto _ : state) {
        s.db_key = "shared" + std::to_string(flip++ % kSharedBackends);
        table.upsert_store(s);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_UpsertOneStore1M);

// Loading a whole million-store snapshot (start-up and full resync), with the table's
// resident memory per store.
void BM_ReplaceSnapshot1M(benchmark::State& state) {
    const registry::Snapshot snapshot = million_store_snapshot();
    bool first = true;
    for (auto _ : state) {
        size_t before = resident_bytes();
        auto table = std::make_unique<registry::RoutingTable>();
        table->replace(snapshot);
        if (first) {
            // Later iterations reuse memory the allocator kept from the first one.
            state.counters["table_bytes_per_store"] =
                static_cast<double>(resident_bytes() - before) / kStores;
            first = false;
        }
        state.PauseTiming();  // the table's destruction is not part of a load
        table.reset();
        state.ResumeTiming();
    }
    state.SetItemsProcessed(state.iterations() * kStores);
}
BENCHMARK(BM_ReplaceSnapshot1M)->Iterations(2)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace storegate::bench
