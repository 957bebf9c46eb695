#include "registry/routing_table.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>

namespace storegate::registry {
namespace {

Uuid id_of(const char* text) {
    return *Uuid::parse(text);
}

// A uuid built from a number, for tables with many stores.
Uuid numbered(uint64_t n) {
    return Uuid{0x1234567800004000ULL, 0x8000000000000000ULL | n};
}

Backend backend(const std::string& db_key, const std::string& host = "10.0.0.1") {
    Backend b;
    b.db_key = db_key;
    b.host = host;
    b.database_name = "app";
    b.username = "app";
    b.password_secret_ref = "env:PW";
    return b;
}

Store store(const char* id, const std::string& slug, const std::string& db_key) {
    Store s;
    s.id = id_of(id);
    s.slug = slug;
    s.db_key = db_key;
    return s;
}

constexpr const char* kStoreA = "7c1e2d3f-0000-4000-8000-00000000000a";
constexpr const char* kStoreB = "7c1e2d3f-0000-4000-8000-00000000000b";
constexpr const char* kTenant = "11111111-2222-4333-8444-555555555555";

Snapshot sample() {
    Snapshot s;
    s.version = 7;
    s.backends = {backend("shared_1"), backend("big")};
    s.stores = {store(kStoreA, "alpha", "shared_1"), store(kStoreB, "beta", "big")};
    Tenant t;
    t.id = id_of(kTenant);
    t.slug = "acme";
    t.common_db_key = "shared_1";
    s.tenants = {t};
    return s;
}

TEST(RoutingTable, FindsStoreByUuidInAnyCaseAndBySlug) {
    RoutingTable table;
    table.replace(sample());
    auto by_id = table.find_store(kStoreA);
    ASSERT_TRUE(by_id);
    EXPECT_EQ(by_id->store->slug, "alpha");
    ASSERT_NE(by_id->backend, nullptr);
    EXPECT_EQ(by_id->backend->db_key, "shared_1");

    auto upper = table.find_store("7C1E2D3F-0000-4000-8000-00000000000A");
    ASSERT_TRUE(upper);
    EXPECT_EQ(upper->store, by_id->store);

    auto by_slug = table.find_store("beta");
    ASSERT_TRUE(by_slug);
    EXPECT_EQ(by_slug->store->id, id_of(kStoreB));
    EXPECT_EQ(by_slug->backend->db_key, "big");

    EXPECT_FALSE(table.find_store("gamma"));
    EXPECT_FALSE(table.find_store("7c1e2d3f-0000-4000-8000-0000000000ff"));
    EXPECT_FALSE(table.find_store(""));
    EXPECT_EQ(table.version(), 7u);
    EXPECT_EQ(table.store_count(), 2u);
}

TEST(RoutingTable, FindsTenantAndBackend) {
    RoutingTable table;
    table.replace(sample());
    ASSERT_NE(table.find_tenant("acme"), nullptr);
    EXPECT_EQ(table.find_tenant(kTenant)->common_db_key, "shared_1");
    EXPECT_EQ(table.find_tenant("ACME"), nullptr);
    ASSERT_NE(table.find_backend("big"), nullptr);
    EXPECT_EQ(table.find_backend("nope"), nullptr);

    table.remove_tenant(id_of(kTenant));
    EXPECT_EQ(table.find_tenant("acme"), nullptr);
}

TEST(RoutingTable, StoreWithoutUsableBackendHasNullBackend) {
    RoutingTable table;
    Snapshot s = sample();
    s.stores.push_back(store("7c1e2d3f-0000-4000-8000-00000000000c", "no-route", ""));
    s.stores.push_back(store("7c1e2d3f-0000-4000-8000-00000000000d", "dangling", "gone"));
    s.backends[1].status = "disabled";
    table.replace(s);

    auto no_route = table.find_store("no-route");
    ASSERT_TRUE(no_route);
    EXPECT_EQ(no_route->backend, nullptr);
    auto dangling = table.find_store("dangling");
    ASSERT_TRUE(dangling);
    EXPECT_EQ(dangling->backend, nullptr);
    auto disabled = table.find_store("beta");
    ASSERT_TRUE(disabled);
    EXPECT_EQ(disabled->backend, nullptr);

    table.remove_backend("shared_1");
    ASSERT_TRUE(table.find_store("alpha"));
    EXPECT_EQ(table.find_store("alpha")->backend, nullptr);
}

TEST(RoutingTable, ResyncKeepsGenerationOfUnchangedBackends) {
    RoutingTable table;
    table.replace(sample());
    uint64_t shared_gen = table.find_backend("shared_1")->generation;
    uint64_t big_gen = table.find_backend("big")->generation;
    EXPECT_NE(shared_gen, big_gen);

    Snapshot next = sample();
    next.backends[1].status = "disabled";  // not a connection field
    next.backends[1].kind = BackendKind::kDedicated;
    table.replace(next);
    EXPECT_EQ(table.find_backend("shared_1")->generation, shared_gen);
    EXPECT_EQ(table.find_backend("big")->generation, big_gen);
    EXPECT_EQ(table.find_backend("big")->status, "disabled");
}

TEST(RoutingTable, ConnectionChangesBumpGeneration) {
    using Change = void (*)(Backend&);
    const Change changes[] = {
        [](Backend& b) { b.host = "10.0.0.9"; },
        [](Backend& b) { b.port = 6543; },
        [](Backend& b) { b.database_name = "other"; },
        [](Backend& b) { b.username = "other"; },
        [](Backend& b) { b.password_secret_ref = "env:OTHER"; },
        [](Backend& b) { b.sslmode = "require"; },
    };
    for (Change change : changes) {
        RoutingTable table;
        table.replace(sample());
        auto before = table.find_backend("big");
        Backend changed = *before;
        change(changed);
        table.upsert_backend(changed);
        auto after = table.find_backend("big");
        EXPECT_GT(after->generation, before->generation);
        // The published object is immutable: holders of the old one still see the old row.
        EXPECT_NE(after, before);
    }
}

TEST(RoutingTable, UpsertWithSameRowKeepsGeneration) {
    RoutingTable table;
    table.replace(sample());
    auto before = table.find_backend("big");
    table.upsert_backend(backend("big"));
    EXPECT_EQ(table.find_backend("big")->generation, before->generation);

    table.remove_backend("big");
    table.upsert_backend(backend("big"));
    EXPECT_GT(table.find_backend("big")->generation, before->generation);
}

TEST(RoutingTable, UpsertStoreMovesSlugAndRoute) {
    RoutingTable table;
    table.replace(sample());
    auto old_route = table.find_store("alpha");
    table.upsert_store(store(kStoreA, "alpha-2", "big"));

    EXPECT_FALSE(table.find_store("alpha"));
    auto moved = table.find_store("alpha-2");
    ASSERT_TRUE(moved);
    EXPECT_EQ(moved->backend->db_key, "big");
    EXPECT_EQ(old_route->store->slug, "alpha");  // old holders keep a consistent object
    EXPECT_EQ(table.store_count(), 2u);

    table.remove_store(id_of(kStoreA));
    EXPECT_FALSE(table.find_store(kStoreA));
    EXPECT_FALSE(table.find_store("alpha-2"));
    EXPECT_EQ(table.store_count(), 1u);
}

TEST(RoutingTable, SlugTakenOverByAnotherStoreFollowsTheNewOwner) {
    RoutingTable table;
    table.replace(sample());
    // Rows arrive one by one: B takes A's slug before A's own rename is applied.
    table.upsert_store(store(kStoreB, "alpha", "big"));
    EXPECT_EQ(table.find_store("alpha")->store->id, id_of(kStoreB));
    table.upsert_store(store(kStoreA, "alpha-old", "shared_1"));
    EXPECT_EQ(table.find_store("alpha")->store->id, id_of(kStoreB));
    EXPECT_EQ(table.find_store("alpha-old")->store->id, id_of(kStoreA));
    EXPECT_FALSE(table.find_store("beta"));
}

TEST(RoutingTable, ListenersRunAfterEveryChange) {
    RoutingTable table;
    std::atomic<int> calls{0};
    table.on_change([&] {
        // Runs outside the lock, so reading the table here must not deadlock.
        EXPECT_GE(table.store_count(), 0u);
        ++calls;
    });
    table.replace(sample());
    table.upsert_store(store(kStoreA, "alpha", "big"));
    table.remove_store(id_of(kStoreB));
    table.upsert_backend(backend("x"));
    table.remove_backend("x");
    table.upsert_tenant(Tenant{});
    EXPECT_EQ(calls.load(), 6);
}

TEST(RoutingTable, ListenersSeeTheChangeTheyWereCalledFor) {
    RoutingTable table;
    std::vector<uint64_t> seen;
    table.on_change([&] { seen.push_back(table.changes()); });
    table.replace(sample());
    table.upsert_store(store(kStoreA, "alpha", "big"));
    table.set_version(7);  // a version alone is not a change of the table's contents
    table.remove_store(id_of(kStoreA));
    EXPECT_EQ(seen, (std::vector<uint64_t>{1, 2, 3}));
    EXPECT_EQ(table.changes(), 3u);
}

TEST(RoutingTable, VersionNeverMovesBackwards) {
    RoutingTable table;
    table.set_version(10);
    table.set_version(4);
    EXPECT_EQ(table.version(), 10u);
    Snapshot s = sample();
    s.version = 12;
    table.replace(s);
    EXPECT_EQ(table.version(), 12u);
}

TEST(RoutingTable, HoldsOneHundredThousandStores) {
    constexpr uint64_t kStores = 100'000;
    Snapshot s;
    s.backends = {backend("shared_1"), backend("shared_2")};
    s.stores.reserve(kStores);
    for (uint64_t n = 0; n < kStores; ++n) {
        Store st;
        st.id = numbered(n);
        st.slug = "store-" + std::to_string(n);
        st.db_key = n % 2 == 0 ? "shared_1" : "shared_2";
        s.stores.push_back(std::move(st));
    }
    RoutingTable table;
    table.replace(s);
    ASSERT_EQ(table.store_count(), kStores);
    for (uint64_t n = 0; n < kStores; ++n) {
        auto by_id = table.find_store(numbered(n).to_string());
        ASSERT_TRUE(by_id) << n;
        EXPECT_EQ(by_id->backend->db_key, n % 2 == 0 ? "shared_1" : "shared_2");
        auto by_slug = table.find_store("store-" + std::to_string(n));
        ASSERT_TRUE(by_slug) << n;
        EXPECT_EQ(by_slug->store, by_id->store);
    }
    EXPECT_EQ(table.stores().size(), kStores);
}

}  // namespace
}  // namespace storegate::registry
