#include "proxy/client_limits.h"

#include <gtest/gtest.h>

namespace storegate::proxy {
namespace {

TEST(ClientLimits, PerAddressLimitRefusesAndReleases) {
    ClientLimits limits;
    config::ServerConfig server;
    server.max_client_conn = 100;
    server.max_client_conn_per_addr = 2;
    auto a = limits.admit("10.0.0.1", server);
    auto b = limits.admit("10.0.0.1", server);
    auto refused = limits.admit("10.0.0.1", server);
    auto other = limits.admit("10.0.0.2", server);
    EXPECT_TRUE(a->admitted());
    EXPECT_TRUE(b->admitted());
    EXPECT_FALSE(refused->admitted());
    EXPECT_TRUE(other->admitted());
    EXPECT_EQ(limits.open(), 3);  // a refused slot is not counted
    a.reset();
    EXPECT_EQ(limits.open(), 2);
    EXPECT_TRUE(limits.admit("10.0.0.1", server)->admitted());
}

TEST(ClientLimits, GlobalLimitCountsEveryAddress) {
    ClientLimits limits;
    config::ServerConfig server;
    server.max_client_conn = 2;
    auto a = limits.admit("10.0.0.1", server);
    auto b = limits.admit("10.0.0.2", server);
    EXPECT_FALSE(limits.admit("10.0.0.3", server)->admitted());
    b.reset();
    EXPECT_TRUE(limits.admit("10.0.0.3", server)->admitted());
}

TEST(ClientLimits, ThrottlesAfterRepeatedFailuresFromOneAddress) {
    ClientLimits limits;
    for (int i = 0; i < ClientLimits::kMaxFailures - 1; ++i) {
        limits.auth_failed("10.0.0.1");
    }
    EXPECT_FALSE(limits.throttled("10.0.0.1"));
    limits.auth_failed("10.0.0.1");
    EXPECT_TRUE(limits.throttled("10.0.0.1"));
    EXPECT_FALSE(limits.throttled("10.0.0.2"));
}

}  // namespace
}  // namespace storegate::proxy
