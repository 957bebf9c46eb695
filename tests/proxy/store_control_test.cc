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

TEST_F(StoreControlTest, WaiterIsRefusedOnceTheGenerationMoved) {
    asio::io_context io;
    auto waiter = std::make_shared<PauseWaiter>(io.get_executor());
    uint64_t seen = control.generation();
    table.upsert_store(store(true));
    EXPECT_FALSE(control.add_waiter(waiter, seen));
    EXPECT_TRUE(control.add_waiter(waiter, control.generation()));
    control.remove_waiter(waiter.get());
}

TEST_F(StoreControlTest, TableChangeWakesRegisteredWaiters) {
    asio::io_context io;
    auto waiter = std::make_shared<PauseWaiter>(io.get_executor());
    ASSERT_TRUE(control.add_waiter(waiter, control.generation()));
    waiter->timer.expires_after(std::chrono::hours(1));
    bool aborted = false;
    waiter->timer.async_wait(
        [&](const error_code& ec) { aborted = ec == asio::error::operation_aborted; });
    table.upsert_store(store(false));
    io.run_for(std::chrono::seconds(5));
    EXPECT_TRUE(waiter->woken);
    EXPECT_TRUE(aborted);
    // Woken once: the next change does not reach it again.
    waiter->woken = false;
    table.upsert_store(store(true));
    io.restart();
    io.poll();
    EXPECT_FALSE(waiter->woken);
}

TEST_F(StoreControlTest, GateOpensWhenTheStoreIsResumed) {
    asio::io_context io;
    RouteDecision route;
    ASSERT_FALSE(resolve_store(kStore, table, route));
    StoreActivity activity(control);
    uint64_t seen = control.generation();
    std::chrono::milliseconds timeout(30000);
    protocol::ErrorFields error;
    std::optional<GateOutcome> outcome;
    asio::co_spawn(io, admit_store(control, route, activity, seen, timeout, error),
                   [&](std::exception_ptr, GateOutcome result) { outcome = result; });
    io.poll();
    EXPECT_FALSE(outcome);
    EXPECT_EQ(control.in_flight(id()), 0);  // a waiting transaction is not in flight
    table.upsert_store(store(false));
    io.run_for(std::chrono::seconds(5));
    ASSERT_TRUE(outcome);
    EXPECT_EQ(*outcome, GateOutcome::kOpen);
    EXPECT_TRUE(activity.active());
}

}  // namespace
}  // namespace storegate::proxy
