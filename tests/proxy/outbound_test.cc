#include "proxy/outbound.h"

#include <gtest/gtest.h>

namespace storegate::proxy {
namespace {

std::string gather(Outbound& out, const std::string& input) {
    std::string all;
    for (const auto& b : out.buffers(reinterpret_cast<const uint8_t*>(input.data()))) {
        all.append(static_cast<const char*>(b.data()), b.size());
    }
    return all;
}

TEST(Outbound, KeepsInputPiecesAndOwnBytesInOrder) {
    std::string input = "0123456789";
    Outbound out;
    EXPECT_TRUE(out.empty());
    out.add_bytes("<");
    out.add_input(2, 3);
    out.add_bytes("|");
    out.add_input(7, 2);
    out.add_bytes(">");
    EXPECT_FALSE(out.empty());
    EXPECT_EQ(gather(out, input), "<234|78>");
}

TEST(Outbound, InputIsReadByOffsetSoTheBufferMayMove) {
    Outbound out;
    out.add_input(1, 2);
    out.add_bytes("!");
    std::string first = "abcd";
    std::string moved = "wxyz";  // the same bytes' buffer after a reallocation
    EXPECT_EQ(gather(out, first), "bc!");
    EXPECT_EQ(gather(out, moved), "xy!");
}

TEST(Outbound, OwnBytesSurviveLaterAdds) {
    Outbound out;
    for (int i = 0; i < 200; ++i) {
        out.add_bytes(std::string(1, static_cast<char>('a' + i % 26)));
    }
    std::string expected;
    for (int i = 0; i < 200; ++i) {
        expected.push_back(static_cast<char>('a' + i % 26));
    }
    EXPECT_EQ(gather(out, ""), expected);
}

TEST(Outbound, ClearEmpties) {
    Outbound out;
    out.add_bytes("x");
    out.add_input(0, 1);
    out.clear();
    EXPECT_TRUE(out.empty());
    out.add_bytes("y");
    EXPECT_EQ(gather(out, "z"), "y");
}

}  // namespace
}  // namespace storegate::proxy
