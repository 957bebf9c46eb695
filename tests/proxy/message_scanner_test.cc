#include "proxy/message_scanner.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace storegate::proxy {
namespace {

std::string msg(char type, std::string body) {
    std::string out(1, type);
    uint32_t len = static_cast<uint32_t>(body.size() + 4);
    for (int shift = 24; shift >= 0; shift -= 8) {
        out.push_back(static_cast<char>((len >> shift) & 0xff));
    }
    return out + body;
}

std::span<const uint8_t> bytes(const std::string& s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST(MessageScanner, PassRunsStopAtWholeAndMarkedMessages) {
    MessageScanner scan(1 << 20, {'Q'}, {'E'});
    std::string buf =
        msg('B', "b") + msg('D', "dd") + msg('E', "e") + msg('Q', "SELECT 1") + msg('S', "");
    auto item = scan.next(bytes(buf), 0);
    EXPECT_EQ(item.kind, MessageScanner::Kind::kPass);
    EXPECT_EQ(item.type, 'B');
    EXPECT_EQ(item.messages, 2);
    size_t pos = item.size;
    item = scan.next(bytes(buf), pos);
    EXPECT_EQ(item.kind, MessageScanner::Kind::kPass);
    EXPECT_EQ(item.type, 'E');
    EXPECT_EQ(item.messages, 1);
    pos += item.size;
    item = scan.next(bytes(buf), pos);
    EXPECT_EQ(item.kind, MessageScanner::Kind::kWhole);
    EXPECT_EQ(item.body, "SELECT 1");
    pos += item.size;
    item = scan.next(bytes(buf), pos);
    EXPECT_EQ(item.kind, MessageScanner::Kind::kPass);
    EXPECT_EQ(item.type, 'S');
    pos += item.size;
    EXPECT_EQ(pos, buf.size());
    EXPECT_TRUE(scan.at_boundary());
}

TEST(MessageScanner, WholeMessageSplitAcrossReadsNeedsMore) {
    MessageScanner scan(1 << 20, {'Z'});
    std::string full = msg('Z', "I");
    std::string part = full.substr(0, 3);
    auto item = scan.next(bytes(part), 0);
    EXPECT_EQ(item.kind, MessageScanner::Kind::kNeedMore);
    part = full.substr(0, 5);
    item = scan.next(bytes(part), 0);
    EXPECT_EQ(item.kind, MessageScanner::Kind::kNeedMore);
    EXPECT_EQ(item.need, full.size());
    item = scan.next(bytes(full), 0);
    EXPECT_EQ(item.kind, MessageScanner::Kind::kWhole);
    EXPECT_EQ(item.body, "I");
}

TEST(MessageScanner, BulkMessagePassesInPieces) {
    MessageScanner scan(1 << 20, {'Z'});
    std::string row = msg('D', std::string(100, 'x'));
    std::string first = row.substr(0, 40);
    auto item = scan.next(bytes(first), 0);
    EXPECT_EQ(item.kind, MessageScanner::Kind::kPass);
    EXPECT_EQ(item.size, 40u);
    EXPECT_FALSE(scan.at_boundary());
    std::string rest = row.substr(40) + msg('Z', "I");
    item = scan.next(bytes(rest), 0);
    EXPECT_EQ(item.kind, MessageScanner::Kind::kPass);
    EXPECT_EQ(item.size, row.size() - 40);
    EXPECT_TRUE(scan.at_boundary());
    item = scan.next(bytes(rest), item.size);
    EXPECT_EQ(item.kind, MessageScanner::Kind::kWhole);
}

TEST(MessageScanner, BadLengthsAreInvalidNotFatal) {
    MessageScanner scan(1000, {'Q'});
    std::string tiny = std::string("Q\0\0\0\2", 5);
    EXPECT_EQ(scan.next(bytes(tiny), 0).kind, MessageScanner::Kind::kInvalid);
    MessageScanner limited(1000, {'Q'});
    std::string huge = std::string("Q\x7f\0\0\0", 5);
    EXPECT_EQ(limited.next(bytes(huge), 0).kind, MessageScanner::Kind::kInvalid);
}

TEST(MessageScanner, MarkingCanBeTurnedOff) {
    MessageScanner scan(1 << 20, {}, {'E'});
    scan.mark('E', false);
    std::string buf = msg('B', "") + msg('E', "");
    auto item = scan.next(bytes(buf), 0);
    EXPECT_EQ(item.messages, 2);
    scan.want_whole('B', true);
    item = scan.next(bytes(buf), 0);
    EXPECT_EQ(item.kind, MessageScanner::Kind::kWhole);
}

}  // namespace
}  // namespace storegate::proxy
