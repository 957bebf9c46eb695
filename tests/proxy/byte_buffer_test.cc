#include "proxy/byte_buffer.h"

#include <gtest/gtest.h>

namespace storegate::proxy {
namespace {

TEST(ByteBuffer, SwapStorageHandsOverDataAndCapacity) {
    ByteBuffer lent(16384);
    ByteBuffer session(16384);
    lent.append("abc", 3);
    const uint8_t* storage = lent.data();
    size_t capacity = lent.capacity();

    session.swap_storage(lent);
    EXPECT_EQ(session.data(), storage);
    EXPECT_EQ(session.capacity(), capacity);
    EXPECT_EQ(session.size(), 3u);
    EXPECT_EQ(lent.size(), 0u);
    EXPECT_EQ(lent.capacity(), 0u);

    session.clear();
    lent.swap_storage(session);
    EXPECT_EQ(lent.data(), storage);
    EXPECT_TRUE(lent.empty());
    EXPECT_EQ(session.capacity(), 0u);
}

TEST(ByteBuffer, EmptyBufferWithoutStorageAllocatesOnPrepare) {
    ByteBuffer lent(4096);
    ByteBuffer session(16384);
    session.swap_storage(lent);
    auto space = session.prepare(1);
    EXPECT_GE(space.size(), 16384u);  // the session's own initial size
}

}  // namespace
}  // namespace storegate::proxy
