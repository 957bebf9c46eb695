#include "proxy/session_registry.h"

#include <gtest/gtest.h>

namespace storegate::proxy {
namespace {

TEST(SessionRegistry, NewSessionsCountAsLogin) {
    SessionRegistry registry;
    auto a = registry.add(1, 0, "127.0.0.1:1000");
    auto b = registry.add(2, 1, "127.0.0.1:1001");
    EXPECT_EQ(registry.size(), 2u);
    EXPECT_EQ(registry.count(ClientState::kLogin), 2);
    EXPECT_EQ(registry.count(ClientState::kActive), 0);
}

TEST(SessionRegistry, StateChangesMoveTheCounts) {
    SessionRegistry registry;
    auto entry = registry.add(1, 0, "127.0.0.1:1000");
    entry->set_state(ClientState::kWaiting);
    EXPECT_EQ(registry.count(ClientState::kLogin), 0);
    EXPECT_EQ(registry.count(ClientState::kWaiting), 1);
    entry->set_server(7, 4242, "127.0.0.1", 5432, Clock::now());
    EXPECT_EQ(registry.count(ClientState::kWaiting), 0);
    EXPECT_EQ(registry.count(ClientState::kActive), 1);
    entry->clear_server(ClientState::kIdle);
    EXPECT_EQ(registry.count(ClientState::kActive), 0);
    EXPECT_EQ(registry.count(ClientState::kIdle), 1);
    EXPECT_EQ(entry->snapshot().server_id, 0u);
}

TEST(SessionRegistry, RemovalDropsStateAndPins) {
    SessionRegistry registry;
    auto entry = registry.add(1, 0, "127.0.0.1:1000");
    entry->set_server(7, 4242, "127.0.0.1", 5432, Clock::now());
    entry->pin(PinReason::kTempTable);
    entry->pin(PinReason::kListen);
    EXPECT_EQ(registry.pinned(PinReason::kTempTable), 1);
    registry.remove(entry);
    EXPECT_EQ(registry.size(), 0u);
    EXPECT_EQ(registry.count(ClientState::kActive), 0);
    EXPECT_EQ(registry.pinned(PinReason::kTempTable), 0);
    EXPECT_EQ(registry.pinned(PinReason::kListen), 0);
}

TEST(SessionRegistry, PinningTheSameReasonTwiceCountsOnce) {
    SessionRegistry registry;
    auto entry = registry.add(1, 0, "127.0.0.1:1000");
    entry->pin(PinReason::kAdvisoryLock);
    entry->pin(PinReason::kAdvisoryLock);
    EXPECT_EQ(registry.pinned(PinReason::kAdvisoryLock), 1);
    entry->unpin(PinReason::kAdvisoryLock);
    entry->unpin(PinReason::kAdvisoryLock);
    EXPECT_EQ(registry.pinned(PinReason::kAdvisoryLock), 0);
}

TEST(SessionRegistry, SnapshotsCarryWhatTheSessionReported) {
    SessionRegistry registry;
    auto entry = registry.add(9, 1, "127.0.0.1:1000");
    entry->set_login("app", "app", "reporting");
    entry->set_route("6f1c...", "alpha", "", "shared1", "options");
    entry->pin(PinReason::kSqlPrepare);
    entry->pin(PinReason::kListen);
    auto list = registry.list();
    ASSERT_EQ(list.size(), 1u);
    EXPECT_EQ(list[0].id, 9u);
    EXPECT_EQ(list[0].worker, 1);
    EXPECT_EQ(list[0].user, "app");
    EXPECT_EQ(list[0].application_name, "reporting");
    EXPECT_EQ(list[0].store_slug, "alpha");
    EXPECT_EQ(list[0].db_key, "shared1");
    EXPECT_EQ(pin_list(list[0].pins), "listen,sql_prepare");
}

TEST(SessionRegistry, NamesEveryStateAndReason) {
    EXPECT_EQ(to_string(ClientState::kConsole), "console");
    EXPECT_EQ(to_string(PinReason::kWithHoldCursor), "with_hold_cursor");
    EXPECT_EQ(pin_list(0), "");
}

}  // namespace
}  // namespace storegate::proxy
