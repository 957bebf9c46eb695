#include "identity/csv.h"

#include <gtest/gtest.h>

#include <sstream>

namespace storegate::identity {
namespace {

using Records = std::vector<std::vector<std::string>>;

Records read_all(const std::string& text, std::vector<std::string>* errors = nullptr) {
    std::istringstream in(text);
    CsvReader reader(in);
    Records records;
    std::vector<std::string> fields;
    while (reader.next(fields)) {
        records.push_back(fields);
        if (errors != nullptr) {
            errors->push_back(reader.error());
        }
    }
    return records;
}

TEST(CsvReader, SplitsPlainFieldsAndLines) {
    EXPECT_EQ(read_all("a,b,c\n1,,3\n"), (Records{{"a", "b", "c"}, {"1", "", "3"}}));
}

TEST(CsvReader, ReadsTheLastLineWithoutNewline) {
    EXPECT_EQ(read_all("a,b\nx,y"), (Records{{"a", "b"}, {"x", "y"}}));
}

TEST(CsvReader, AcceptsCrlfLineEnds) {
    EXPECT_EQ(read_all("a,b\r\nx,y\r\n"), (Records{{"a", "b"}, {"x", "y"}}));
}

TEST(CsvReader, UnquotesFieldsWithCommasQuotesAndNewlines) {
    EXPECT_EQ(read_all("\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\"\"\n"),
              (Records{{"a,b", "say \"hi\"", "two\nlines", ""}}));
}

TEST(CsvReader, SkipsTheByteOrderMark) {
    EXPECT_EQ(read_all("\xEF\xBB\xBF"
                       "email\nx@example.com\n"),
              (Records{{"email"}, {"x@example.com"}}));
}

TEST(CsvReader, CountsLinesOfRecordsSpanningLines) {
    std::istringstream in("h\n\"a\nb\"\nc\n");
    CsvReader reader(in);
    std::vector<std::string> fields;
    std::vector<uint64_t> lines;
    while (reader.next(fields)) {
        lines.push_back(reader.line());
    }
    EXPECT_EQ(lines, (std::vector<uint64_t>{1, 2, 4}));
    EXPECT_EQ(reader.bytes_read(), 10u);
}

TEST(CsvReader, ReportsMalformedRecordsAndGoesOn) {
    std::vector<std::string> errors;
    Records records = read_all("ok\nab\"c\n\"x\"y\ngood\n\"open", &errors);
    ASSERT_EQ(records.size(), 5u);
    EXPECT_EQ(errors[0], "");
    EXPECT_EQ(errors[1], "a quote inside an unquoted field");
    EXPECT_EQ(errors[2], "text after a closing quote");
    EXPECT_EQ(errors[3], "");
    EXPECT_EQ(records[3], (std::vector<std::string>{"good"}));
    EXPECT_EQ(errors[4], "the file ends inside a quoted field");
}

TEST(CsvLine, QuotesOnlyWhatNeedsIt) {
    EXPECT_EQ(csv_line({"plain", "a,b", "say \"hi\"", "two\nlines", ""}),
              "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\n");
}

TEST(CsvLine, RoundTripsThroughTheReader) {
    std::vector<std::string> fields{"x", "\"quoted\"", "comma, here", "new\r\nline"};
    EXPECT_EQ(read_all(csv_line(fields)), (Records{fields}));
}

}  // namespace
}  // namespace storegate::identity
