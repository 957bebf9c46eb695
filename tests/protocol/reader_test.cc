#include "protocol/reader.h"

#include <gtest/gtest.h>

#include <string>

namespace storegate::protocol {
namespace {

TEST(Reader, ReadsIntegersInNetworkOrder) {
    Reader r(std::string_view("\x01\xff\xfe\x80\x00\x00\x01", 7));
    uint8_t a = 0;
    int16_t b = 0;
    int32_t c = 0;
    ASSERT_TRUE(r.u8(a));
    ASSERT_TRUE(r.i16(b));
    ASSERT_TRUE(r.i32(c));
    EXPECT_EQ(a, 1);
    EXPECT_EQ(b, -2);
    EXPECT_EQ(c, static_cast<int32_t>(0x80000001u));
    EXPECT_TRUE(r.at_end());
}

TEST(Reader, ReadsStringsWithoutTerminator) {
    Reader r(std::string_view("ab\0\0c", 5));
    std::string_view s;
    ASSERT_TRUE(r.cstring(s));
    EXPECT_EQ(s, "ab");
    ASSERT_TRUE(r.cstring(s));
    EXPECT_EQ(s, "");
    EXPECT_EQ(r.rest(), "c");
    EXPECT_FALSE(r.cstring(s));
}

TEST(Reader, FailsInsteadOfReadingPastTheEnd) {
    Reader r(std::string_view("\x00\x01\x02", 3));
    int32_t v = 0;
    EXPECT_FALSE(r.i32(v));
    std::string_view b;
    EXPECT_FALSE(r.bytes(4, b));
    ASSERT_TRUE(r.bytes(3, b));
    uint8_t u = 0;
    EXPECT_FALSE(r.u8(u));
    int16_t s = 0;
    EXPECT_FALSE(r.i16(s));
    EXPECT_EQ(r.remaining(), 0u);
}

}  // namespace
}  // namespace storegate::protocol
