// The prepared-statement bookkeeping of transaction pooling: naming a client's Parse by its
// text (once per Parse a client sends) and looking the name up in a server connection's set
// (once per Bind/Describe of a named statement, i.e. per execution with pgbench -M prepared).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "proxy/prepared_statements.h"

namespace storegate::bench {
namespace {

constexpr size_t kCacheSize = 500;  // pool.prepared_cache_size's default

// A Parse body after the statement name: query, NUL, int16 type count, int32 type OIDs
// (protocol docs, "Message Formats", Parse).
std::string parse_definition(int n) {
    std::string d =
        "SELECT abalance FROM pgbench_accounts WHERE aid = $1 AND bid <> " + std::to_string(n);
    d.push_back('\0');
    const uint8_t types[] = {0, 1, 0, 0, 0, 23};  // one parameter of type int4
    d.append(reinterpret_cast<const char*>(types), sizeof(types));
    return d;
}

std::vector<std::string> internal_names(int count) {
    std::vector<std::string> names;
    for (int i = 0; i < count; ++i) {
        names.push_back(proxy::make_statement(parse_definition(i))->internal_name);
    }
    return names;
}

void BM_MakeStatement(benchmark::State& state) {
    const std::string definition = parse_definition(7);
    for (auto _ : state) {
        benchmark::DoNotOptimize(proxy::make_statement(definition));
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MakeStatement);

// A statement the server connection already has, among a full set.
void BM_PreparedSetHit(benchmark::State& state) {
    const auto names = internal_names(kCacheSize);
    proxy::PreparedSet set;
    for (const auto& name : names) {
        set.add(name, kCacheSize);
    }
    std::mt19937 rng(7);
    std::vector<size_t> order(4096);
    for (auto& i : order) {
        i = rng() % names.size();
    }
    size_t k = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(set.contains(names[order[k]]));
        k = (k + 1) % order.size();
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PreparedSetHit);

// Statements the server connection lacks, each added and one old one evicted: a client with
// more distinct statements than the cache holds.
void BM_PreparedSetAddWithEviction(benchmark::State& state) {
    const auto names = internal_names(2 * kCacheSize);
    proxy::PreparedSet set;
    size_t k = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(set.add(names[k], kCacheSize));
        k = (k + 1) % names.size();
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PreparedSetAddWithEviction);

}  // namespace
}  // namespace storegate::bench
