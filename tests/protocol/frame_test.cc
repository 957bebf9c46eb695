#include "protocol/frame.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/protocol/test_bytes.h"

namespace storegate::protocol {
namespace {

using test::be32;
using test::bytes_of;

std::string message(char type, const std::string& body) {
    return std::string(1, type) + be32(static_cast<uint32_t>(body.size() + 4)) + body;
}

TEST(Frame, DecodesExactMessage) {
    const std::string wire = message('Q', std::string("select 1\0", 9));
    Frame f;
    ASSERT_EQ(decode_frame(bytes_of(wire), kDefaultMaxMessage, f), FrameStatus::kReady);
    EXPECT_EQ(f.type, 'Q');
    EXPECT_EQ(f.body, std::string_view("select 1\0", 9));
    EXPECT_EQ(f.size, wire.size());
}

TEST(Frame, DecodesEmptyBody) {
    const std::string wire = message('S', "");
    Frame f;
    ASSERT_EQ(decode_frame(bytes_of(wire), kDefaultMaxMessage, f), FrameStatus::kReady);
    EXPECT_EQ(f.type, 'S');
    EXPECT_TRUE(f.body.empty());
    EXPECT_EQ(f.size, 5u);
}

TEST(Frame, NeedsMoreWhenHeaderIncomplete) {
    const std::string wire = message('Q', "abc");
    Frame f;
    for (size_t n = 0; n < kHeaderSize; ++n) {
        EXPECT_EQ(decode_frame(bytes_of(wire.substr(0, n)), kDefaultMaxMessage, f),
                  FrameStatus::kNeedMore)
            << n;
    }
}

TEST(Frame, NeedsMoreWhenBodyTruncated) {
    const std::string wire = message('Q', "abcdef");
    Frame f;
    for (size_t n = kHeaderSize; n < wire.size(); ++n) {
        EXPECT_EQ(decode_frame(bytes_of(wire.substr(0, n)), kDefaultMaxMessage, f),
                  FrameStatus::kNeedMore)
            << n;
    }
}

TEST(Frame, RejectsLengthBelowFour) {
    for (uint32_t len = 0; len < 4; ++len) {
        const std::string wire = "Q" + be32(len) + "xxxx";
        Frame f;
        EXPECT_EQ(decode_frame(bytes_of(wire), kDefaultMaxMessage, f), FrameStatus::kInvalid);
        FrameHeader h;
        EXPECT_EQ(decode_header(bytes_of(wire), kDefaultMaxMessage, h), FrameStatus::kInvalid);
    }
}

TEST(Frame, RejectsLengthAboveLimit) {
    const std::string wire = "D" + be32(1025);
    Frame f;
    EXPECT_EQ(decode_frame(bytes_of(wire), 1024, f), FrameStatus::kInvalid);
    const std::string at_limit = "D" + be32(1024);
    EXPECT_EQ(decode_frame(bytes_of(at_limit), 1024, f), FrameStatus::kNeedMore);
}

TEST(Frame, RejectsGarbageLength) {
    const std::string wire = "\xff\xff\xff\xff\xff garbage";
    Frame f;
    EXPECT_EQ(decode_frame(bytes_of(wire), kDefaultMaxMessage, f), FrameStatus::kInvalid);
}

TEST(Frame, DecodesMessagesBackToBack) {
    const std::string wire = message('1', "") + message('2', "") +
                             message('D', std::string("\0\1\0\0\0\1x", 7)) + message('Z', "I");
    std::span<const uint8_t> in = bytes_of(wire);
    std::string types;
    Frame f;
    while (decode_frame(in, kDefaultMaxMessage, f) == FrameStatus::kReady) {
        types.push_back(f.type);
        in = in.subspan(f.size);
    }
    EXPECT_EQ(types, "12DZ");
    EXPECT_TRUE(in.empty());
    EXPECT_EQ(f.body, "I");
}

TEST(Frame, HeaderReportsSizeWithoutBody) {
    const std::string wire = "d" + be32(100000);
    FrameHeader h;
    ASSERT_EQ(decode_header(bytes_of(wire), kDefaultMaxMessage, h), FrameStatus::kReady);
    EXPECT_EQ(h.type, 'd');
    EXPECT_EQ(h.length, 100000u);
    EXPECT_EQ(h.total(), 100001u);
}

TEST(Frame, ReadsBigEndianIntegers) {
    const uint8_t b[4] = {0x12, 0x34, 0x56, 0x78};
    EXPECT_EQ(read_u32(b), 0x12345678u);
    EXPECT_EQ(read_u16(b), 0x1234u);
}

}  // namespace
}  // namespace storegate::protocol
