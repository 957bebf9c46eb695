#include "proxy/store_control.h"

#include <gtest/gtest.h>

namespace storegate::proxy {
namespace {

constexpr const char* kStore = "7c1e2d3f-0000-4000-8000-00000000000a";

registry::Store store(bool paused) {
    registry::Store s;
    s.id = *Uuid::parse(kStore);
    s.slug = "alpha";
    s.db_key = "shared_1";
    s.paused = paused;
    return s;
}

registry::Snapshot snapshot(bool paused) {
    registry::Backend backend;
    backend.db_key = "shared_1";
    backend.host = "10.0.0.1";
    backend.database_name = "app";
    backend.username = "app";
    registry::Snapshot s;
    s.backends = {backend};
    s.stores = {store(paused)};
    return s;
}

const Uuid& id() {
    static const Uuid value = *Uuid::parse(kStore);
    return value;
}

// A table holding one paused store, and the control that follows it.
class StoreControlTest : public ::testing::Test {
  protected:
    void SetUp() override { table.replace(snapshot(true)); }

    registry::RoutingTable table;
    StoreControl control{table};
};

TEST_F(StoreControlTest, InFlightIsReadOnceTheGenerationCoversTheChanges) {
    control.enter(id());
    EXPECT_EQ(control.in_flight_after(id(), table.changes(), std::chrono::milliseconds(0)), 1);
    // A change the listener has not run for yet: the count is not read.
    EXPECT_EQ(control.in_flight_after(id(), table.changes() + 1, std::chrono::milliseconds(10)),
              std::nullopt);
    control.leave(id());
    EXPECT_EQ(control.in_flight_after(id(), table.changes(), std::chrono::milliseconds(0)), 0);
}

TEST_F(StoreControlTest, LastLeaveOfAWatchedStoreWakesTheReporter) {
    control.enter(id());
    control.enter(id());
    uint64_t drains = control.drains();
    EXPECT_EQ(control.in_flight_after(id(), table.changes(), std::chrono::milliseconds(0)), 2);
    control.leave(id());
    EXPECT_EQ(control.drains(), drains);
    control.leave(id());
    EXPECT_EQ(control.drains(), drains + 1);
    auto start = std::chrono::steady_clock::now();
    control.wait_change(control.generation(), drains, std::chrono::seconds(5));
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST_F(StoreControlTest, UnwatchedStoresDrainWithoutWakingAnyone) {
    control.enter(id());
    EXPECT_EQ(control.in_flight_after(id(), table.changes(), std::chrono::milliseconds(0)), 1);
    control.unwatch_drains();
    uint64_t drains = control.drains();
    control.leave(id());
    EXPECT_EQ(control.drains(), drains);
}

}  // namespace
}  // namespace storegate::proxy
