#include "proxy/admin_console.h"

#include <gtest/gtest.h>

namespace storegate::proxy {
namespace {

using Kind = ConsoleCommand::Kind;

ConsoleCommand only(std::string_view sql) {
    auto commands = parse_console(sql);
    EXPECT_EQ(commands.size(), 1u) << sql;
    return commands.empty() ? ConsoleCommand{} : commands[0];
}

TEST(ConsoleParser, ShowCommandsIgnoreCaseAndTheSemicolon) {
    EXPECT_EQ(only("SHOW POOLS").kind, Kind::kShowPools);
    EXPECT_EQ(only("show clients;").kind, Kind::kShowClients);
    EXPECT_EQ(only("  Show Servers ; ").kind, Kind::kShowServers);
    EXPECT_EQ(only("SHOW STATS").kind, Kind::kShowStats);
    EXPECT_EQ(only("SHOW STORES").kind, Kind::kShowStores);
    EXPECT_EQ(only("SHOW INSTANCES").kind, Kind::kShowInstances);
    EXPECT_EQ(only("SHOW HELP").kind, Kind::kShowHelp);
}

TEST(ConsoleParser, StoreArgumentsMayBeQuoted) {
    auto route = only("SHOW ROUTE 'alpha'");
    EXPECT_EQ(route.kind, Kind::kShowRoute);
    EXPECT_EQ(route.argument, "alpha");
    auto pause = only("PAUSE \"my store\"");
    EXPECT_EQ(pause.kind, Kind::kPause);
    EXPECT_EQ(pause.argument, "my store");
    auto resume = only("resume beta");
    EXPECT_EQ(resume.kind, Kind::kResume);
    EXPECT_EQ(resume.argument, "beta");
    EXPECT_EQ(only("PAUSE 'it''s'").argument, "it's");
}

TEST(ConsoleParser, SetLogLevelAcceptsEqualsOrTo) {
    for (auto sql : {"SET log_level = debug", "set LOG_LEVEL to 'warn'", "SET log_level='info'"}) {
        auto command = only(sql);
        EXPECT_EQ(command.kind, Kind::kSetLogLevel) << sql;
    }
    EXPECT_EQ(only("SET log_level TO 'warn'").argument, "warn");
    EXPECT_EQ(only("SET search_path = public").kind, Kind::kInvalid);
}

TEST(ConsoleParser, UnknownOrIncompleteCommandsAreInvalid) {
    EXPECT_EQ(only("SELECT 1").kind, Kind::kInvalid);
    EXPECT_EQ(only("SHOW").kind, Kind::kInvalid);
    EXPECT_EQ(only("SHOW ROUTE").kind, Kind::kInvalid);
    EXPECT_EQ(only("PAUSE").kind, Kind::kInvalid);
    EXPECT_EQ(only("RELOAD now").kind, Kind::kInvalid);
    EXPECT_EQ(only("SHOW POOLS extra").kind, Kind::kInvalid);
    EXPECT_EQ(only("SELECT 1").text, "SELECT 1");
}

TEST(ConsoleParser, SplitsStatementsOutsideQuotes) {
    auto commands = parse_console("SHOW POOLS; PAUSE 'a;b'; RELOAD");
    ASSERT_EQ(commands.size(), 3u);
    EXPECT_EQ(commands[0].kind, Kind::kShowPools);
    EXPECT_EQ(commands[1].kind, Kind::kPause);
    EXPECT_EQ(commands[1].argument, "a;b");
    EXPECT_EQ(commands[2].kind, Kind::kReload);
}

TEST(ConsoleParser, BlankQueryIsOneEmptyCommand) {
    EXPECT_EQ(only("").kind, Kind::kEmpty);
    EXPECT_EQ(only(" ; ;").kind, Kind::kEmpty);
}

TEST(ConsoleParser, OnlyAdminUsersAskingForTheConsoleDatabaseGetIt) {
    config::Config config;
    config.admin.admin_users = {"ops"};
    RouteRequest request;
    request.role = "ops";
    request.database = "storegate";
    EXPECT_TRUE(wants_console(request, config));
    request.database = "app";
    EXPECT_FALSE(wants_console(request, config));
    request.role = "app";
    request.database = "storegate";
    EXPECT_FALSE(wants_console(request, config));
}

}  // namespace
}  // namespace storegate::proxy
