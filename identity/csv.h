// CSV as RFC 4180 writes it: comma-separated fields, optionally in double quotes (a quote
// inside is doubled, and a quoted field may span lines), LF or CRLF line ends, and an optional
// UTF-8 byte order mark at the start.
#pragma once

#include <cstdint>
#include <istream>
#include <string>
#include <vector>

namespace storegate::identity {

class CsvReader {
  public:
    explicit CsvReader(std::istream& in);

    // Reads the next record into `fields`; false at the end of the input. A malformed record
    // (a stray quote, text after a closing quote, a quoted field the file ends in) is returned
    // all the same, with error() saying what is wrong; error() is empty for a good record.
    bool next(std::vector<std::string>& fields);

    const std::string& error() const { return error_; }
    // 1-based line on which the last record started.
    uint64_t line() const { return record_line_; }
    uint64_t bytes_read() const { return bytes_; }

  private:
    int get();
    int peek();
    void read_quoted(std::string& field);
    void read_plain(std::string& field, int first);

    std::streambuf* in_;
    std::string error_;
    uint64_t line_ = 1;
    uint64_t record_line_ = 0;
    uint64_t bytes_ = 0;
};

// One record as a CSV line (with its "\n"), quoting the fields that need it.
std::string csv_line(const std::vector<std::string>& fields);

}  // namespace storegate::identity
