#include "registry/watcher.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <thread>

#include "registry_db.h"

namespace storegate::registry {
namespace {

using storegate::test_support::query;
using storegate::test_support::RegistryDbTest;
using namespace storegate::test_support::ids;
using namespace std::chrono_literals;

// Polls `condition` until it holds or a generous bound passes. The bound only keeps a broken
// build from hanging; the tests assert what happened, never how fast.
bool eventually(const std::function<bool()>& condition) {
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (!condition()) {
        if (std::chrono::steady_clock::now() > deadline) {
            return false;
        }
        std::this_thread::sleep_for(10ms);
    }
    return true;
}

class WatcherTest : public RegistryDbTest {
  protected:
    void SetUp() override {
        RegistryDbTest::SetUp();
        if (IsSkipped()) {
            return;
        }
        migrate_ok();
        seed();
    }
    WatcherOptions options() const {
        WatcherOptions o;
        o.dsn = dsn_;
        o.liveness_interval = 100ms;
        o.min_backoff = 50ms;
        o.max_backoff = 400ms;
        return o;
    }
    std::string db_key_of(const char* store) const {
        auto route = table_.find_store(store);
        return route ? route->store->db_key : "<none>";
    }
    RoutingTable table_;
};

TEST_F(WatcherTest, LoadsTheSnapshotThenAppliesEachChange) {
    Watcher watcher(table_, options());
    watcher.start();
    ASSERT_TRUE(watcher.wait_loaded(20s));
    EXPECT_TRUE(watcher.connected());
    EXPECT_EQ(table_.store_count(), 2u);
    EXPECT_EQ(db_key_of(kStoreA), "shared_1");
    uint64_t loaded = watcher.applied_version();
    EXPECT_GT(loaded, 0u);

    auto started = std::chrono::steady_clock::now();
    query(dsn_, "UPDATE store_db_routing SET db_key = 'big' WHERE store_id = '" +
                    std::string(kStoreA) + "'");
    ASSERT_TRUE(eventually([&] { return db_key_of(kStoreA) == "big"; }));
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
    RecordProperty("update_applied_ms", std::to_string(took.count()));
    // The version follows the row it announces.
    EXPECT_TRUE(eventually([&] { return watcher.applied_version() == loaded + 1; }));
    EXPECT_TRUE(eventually([&] { return table_.version() == loaded + 1; }));
    EXPECT_EQ(watcher.full_loads(), 1u);  // applied row by row, not by reloading

    query(dsn_,
          "INSERT INTO stores (tenant_id, slug) VALUES ('" + std::string(kTenant) + "', 'gamma')");
    ASSERT_TRUE(eventually([&] { return table_.find_store("gamma").has_value(); }));
    query(dsn_, "DELETE FROM stores WHERE slug = 'beta'");
    ASSERT_TRUE(eventually([&] { return !table_.find_store("beta").has_value(); }));
    query(dsn_, "UPDATE tenants SET slug = 'acme-2'");
    ASSERT_TRUE(eventually([&] { return table_.find_tenant("acme-2") != nullptr; }));
    EXPECT_EQ(table_.find_tenant("acme"), nullptr);
}

TEST_F(WatcherTest, BackendChangesBumpGenerationAndReachRoutes) {
    Watcher watcher(table_, options());
    watcher.start();
    ASSERT_TRUE(watcher.wait_loaded(20s));
    uint64_t generation = table_.find_backend("shared_1")->generation;

    query(dsn_, "UPDATE db_connections SET port = 6000 WHERE db_key = 'shared_1'");
    ASSERT_TRUE(eventually([&] { return table_.find_backend("shared_1")->port == 6000; }));
    EXPECT_GT(table_.find_backend("shared_1")->generation, generation);
    EXPECT_EQ(table_.find_store("alpha")->backend->port, 6000);

    query(dsn_, "UPDATE db_connections SET status = 'disabled' WHERE db_key = 'shared_1'");
    ASSERT_TRUE(eventually([&] { return table_.find_store("alpha")->backend == nullptr; }));
}

TEST_F(WatcherTest, LargeStatementTriggersAFullReload) {
    Watcher watcher(table_, options());
    watcher.start();
    ASSERT_TRUE(watcher.wait_loaded(20s));
    query(dsn_, "INSERT INTO stores (tenant_id, slug) SELECT '" + std::string(kTenant) +
                    "', 'bulk-' || n FROM generate_series(1, 300) n");
    ASSERT_TRUE(eventually([&] { return table_.store_count() == 302u; }));
    EXPECT_TRUE(eventually([&] { return watcher.full_loads() == 2u; }));
}

TEST_F(WatcherTest, ReconnectsAndReloadsAfterConnectionLoss) {
    Watcher watcher(table_, options());
    watcher.start();
    ASSERT_TRUE(watcher.wait_loaded(20s));
    cluster_->terminate_connections(database_);
    // connected() turns true before the reload that follows it has finished.
    ASSERT_TRUE(eventually([&] {
        return watcher.reconnects() >= 1 && watcher.connected() && watcher.full_loads() >= 2u;
    }));

    query(dsn_, "UPDATE stores SET paused = true WHERE slug = 'alpha'");
    ASSERT_TRUE(eventually([&] { return table_.find_store("alpha")->store->paused; }));
}

TEST_F(WatcherTest, KeepsRoutingWhileTheRegistryIsDown) {
    Watcher watcher(table_, options());
    watcher.start();
    ASSERT_TRUE(watcher.wait_loaded(20s));
    cluster_->stop();
    bool went_down = eventually([&] { return !watcher.connected(); });
    EXPECT_TRUE(table_.find_store("alpha").has_value());
    cluster_->start();
    ASSERT_TRUE(went_down);
    ASSERT_TRUE(eventually([&] { return watcher.connected(); }));
    EXPECT_GE(watcher.reconnects(), 1u);
    EXPECT_EQ(table_.store_count(), 2u);
}

TEST_F(WatcherTest, LookupFindsStoresMissingFromTheTable) {
    WatcherOptions o = options();
    o.negative_cache_ttl = 3600s;
    Watcher watcher(table_, o);  // not started: the table stays empty
    auto route = watcher.lookup_store_now("alpha");
    ASSERT_TRUE(route);
    EXPECT_EQ(route->store->id.to_string(), kStoreA);
    ASSERT_NE(route->backend, nullptr);  // the backend came along
    EXPECT_EQ(route->backend->db_key, "shared_1");
    EXPECT_TRUE(table_.find_store(kStoreA).has_value());

    ASSERT_TRUE(watcher.lookup_store_now("7C1E2D3F-0000-4000-8000-00000000000B"));
    EXPECT_FALSE(watcher.lookup_store_now("gamma"));
    query(dsn_,
          "INSERT INTO stores (tenant_id, slug) VALUES ('" + std::string(kTenant) + "', 'gamma')");
    EXPECT_FALSE(watcher.lookup_store_now("gamma"));  // the miss is cached
}

TEST_F(WatcherTest, LookupRetriesOnceTheMissExpires) {
    WatcherOptions o = options();
    o.negative_cache_ttl = 0ms;
    Watcher watcher(table_, o);
    EXPECT_FALSE(watcher.lookup_store_now("gamma"));
    query(dsn_,
          "INSERT INTO stores (tenant_id, slug) VALUES ('" + std::string(kTenant) + "', 'gamma')");
    EXPECT_TRUE(watcher.lookup_store_now("gamma"));
}

TEST_F(WatcherTest, ReportsTheInstanceHeartbeat) {
    WatcherOptions o = options();
    o.instance_id = "sg-test-1";
    o.address = "127.0.0.1:6432";
    Watcher watcher(table_, o);
    watcher.start();
    ASSERT_TRUE(watcher.wait_loaded(20s));
    std::string expected = std::to_string(watcher.applied_version());
    ASSERT_TRUE(eventually([&] {
        return query(dsn_,
                     "SELECT applied_version FROM storegate_instances WHERE id = "
                     "'sg-test-1'") == expected;
    }));
    EXPECT_EQ(query(dsn_, "SELECT address FROM storegate_instances"), "127.0.0.1:6432");
}

TEST(WatcherStop, StopsWhileTheRegistryIsUnreachable) {
    RoutingTable table;
    WatcherOptions o;
    o.dsn = "host=127.0.0.1 port=1 connect_timeout=1";
    o.min_backoff = 10ms;
    Watcher watcher(table, o);
    watcher.start();
    EXPECT_FALSE(watcher.wait_loaded(300ms));
    EXPECT_FALSE(watcher.connected());
    watcher.stop();
    watcher.stop();
    EXPECT_EQ(table.store_count(), 0u);
    EXPECT_FALSE(watcher.lookup_store_now("alpha"));
}

}  // namespace
}  // namespace storegate::registry
