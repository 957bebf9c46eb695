#include "proxy/store_metrics.h"

#include <gtest/gtest.h>

#include <map>

namespace storegate::proxy {
namespace {

using namespace std::chrono_literals;

// family name -> store label -> value, from one collect().
using Samples = std::map<std::string, std::map<std::string, double>>;

Samples collect(StoreTracker& tracker, Clock::time_point now) {
    std::vector<prometheus::MetricFamily> families;
    tracker.collect(families, now);
    Samples out;
    for (const auto& f : families) {
        for (const auto& m : f.metric) {
            double v = f.type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value;
            out[f.name][m.label.at(0).value] = v;
        }
    }
    return out;
}

constexpr const char* kTx = "storegate_store_transactions_total";
constexpr const char* kClients = "storegate_store_client_connections";

TEST(StoreTracker, OtherIsAlwaysExported) {
    StoreTracker tracker(10, 600s);
    auto s = collect(tracker, Clock::now());
    EXPECT_EQ(s[kTx].size(), 1u);
    EXPECT_EQ(s[kTx]["other"], 0);
}

TEST(StoreTracker, ActivityBeforeAdmissionStaysInOther) {
    StoreTracker tracker(10, 600s);
    auto alpha = tracker.get("alpha");
    alpha->transactions += 5;
    auto t0 = Clock::now();
    auto first = collect(tracker, t0);
    EXPECT_EQ(first[kTx]["other"], 5);
    EXPECT_EQ(first[kTx]["alpha"], 0);  // admitted, starting from zero
    alpha->transactions += 3;
    auto second = collect(tracker, t0 + 1s);
    EXPECT_EQ(second[kTx]["alpha"], 3);
    EXPECT_EQ(second[kTx]["other"], 5);
}

TEST(StoreTracker, OnlyTheBusiestStoresGetTheirOwnSeries) {
    StoreTracker tracker(2, 600s);
    auto a = tracker.get("a");
    auto b = tracker.get("b");
    auto c = tracker.get("c");
    a->transactions += 10;
    b->transactions += 1;
    c->transactions += 20;
    auto s = collect(tracker, Clock::now());
    EXPECT_TRUE(s[kTx].contains("a"));
    EXPECT_TRUE(s[kTx].contains("c"));
    EXPECT_FALSE(s[kTx].contains("b"));
    b->transactions += 4;
    auto later = collect(tracker, Clock::now());
    EXPECT_FALSE(later[kTx].contains("b"));
    EXPECT_EQ(later[kTx]["other"], 35);
}

TEST(StoreTracker, IdleStoresMakeRoomForBusyOnes) {
    StoreTracker tracker(1, 60s);
    auto quiet = tracker.get("quiet");
    auto busy = tracker.get("busy");
    auto t0 = Clock::now();
    quiet->transactions += 1;
    collect(tracker, t0);
    busy->transactions += 1;
    auto s = collect(tracker, t0 + 10s);
    EXPECT_TRUE(s[kTx].contains("quiet"));  // not idle long enough yet
    EXPECT_FALSE(s[kTx].contains("busy"));
    busy->transactions += 1;
    auto later = collect(tracker, t0 + 120s);
    EXPECT_FALSE(later[kTx].contains("quiet"));
    EXPECT_TRUE(later[kTx].contains("busy"));
}

TEST(StoreTracker, ExportedSeriesNeverDecrease) {
    StoreTracker tracker(1, 1s);
    auto a = tracker.get("a");
    auto b = tracker.get("b");
    auto t = Clock::now();
    double last_other = 0;
    for (int round = 0; round < 20; ++round) {
        (round % 2 ? a : b)->transactions += static_cast<uint64_t>(round + 1);
        auto s = collect(tracker, t + std::chrono::seconds(round * 5));
        EXPECT_GE(s[kTx]["other"], last_other);
        last_other = s[kTx]["other"];
    }
}

TEST(StoreTracker, ClientsOfStoresWithoutASeriesAddUpInOther) {
    StoreTracker tracker(0, 600s);
    auto a = tracker.get("a");
    auto b = tracker.get("b");
    a->clients += 2;
    b->clients += 3;
    auto s = collect(tracker, Clock::now());
    EXPECT_EQ(s[kClients]["other"], 5);
    EXPECT_EQ(s[kClients].size(), 1u);
}

TEST(StoreTracker, LoweringTheLimitEvictsTheLeastRecentlyActive) {
    StoreTracker tracker(2, 600s);
    auto a = tracker.get("a");
    auto b = tracker.get("b");
    auto t0 = Clock::now();
    a->transactions += 1;
    b->transactions += 1;
    collect(tracker, t0);
    a->transactions += 1;
    collect(tracker, t0 + 1s);
    tracker.set_limit(1);
    auto s = collect(tracker, t0 + 2s);
    EXPECT_TRUE(s[kTx].contains("a"));
    EXPECT_FALSE(s[kTx].contains("b"));
}

TEST(StoreTracker, AStoreNamedOtherNeverGetsItsOwnSeries) {
    StoreTracker tracker(5, 600s);
    auto other = tracker.get("other");
    other->transactions += 7;
    collect(tracker, Clock::now());
    other->transactions += 1;
    auto s = collect(tracker, Clock::now());
    EXPECT_EQ(s[kTx].size(), 1u);
    EXPECT_EQ(s[kTx]["other"], 8);
}

}  // namespace
}  // namespace storegate::proxy
