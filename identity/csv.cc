#include "identity/csv.h"

namespace storegate::identity {

namespace {

constexpr int kEof = std::char_traits<char>::eof();

}  // namespace

CsvReader::CsvReader(std::istream& in) : in_(in.rdbuf()) {
    // A byte order mark is an encoding marker, not part of the first column's name.
    if (peek() == 0xEF) {
        std::string bom;
        for (int i = 0; i < 3 && peek() != kEof; ++i) {
            bom.push_back(static_cast<char>(get()));
        }
        if (bom != "\xEF\xBB\xBF") {
            error_ = "unreadable start of file";
        }
    }
}

int CsvReader::get() {
    int c = in_->sbumpc();
    if (c != kEof) {
        ++bytes_;
        if (c == '\n') {
            ++line_;
        }
    }
    return c;
}

int CsvReader::peek() {
    return in_->sgetc();
}

bool CsvReader::next(std::vector<std::string>& fields) {
    fields.clear();
    error_.clear();
    record_line_ = line_;
    if (peek() == kEof) {
        return false;
    }
    fields.emplace_back();
    for (;;) {
        int c = get();
        if (c == kEof || c == '\n') {
            break;
        }
        if (c == '\r' && peek() == '\n') {
            continue;
        }
        if (c == ',') {
            fields.emplace_back();
        } else if (c == '"' && fields.back().empty()) {
            read_quoted(fields.back());
        } else {
            read_plain(fields.back(), c);
        }
    }
    return true;
}

// Reads up to the closing quote; the caller continues after it.
void CsvReader::read_quoted(std::string& field) {
    for (;;) {
        int c = get();
        if (c == kEof) {
            error_ = "the file ends inside a quoted field";
            return;
        }
        if (c != '"') {
            field.push_back(static_cast<char>(c));
            continue;
        }
        if (peek() == '"') {
            field.push_back(static_cast<char>(get()));
            continue;
        }
        int after = peek();
        if (after != ',' && after != '\n' && after != '\r' && after != kEof && error_.empty()) {
            error_ = "text after a closing quote";
        }
        return;
    }
}

// Reads the rest of an unquoted field, leaving the separator or line end to the caller.
void CsvReader::read_plain(std::string& field, int first) {
    int c = first;
    for (;;) {
        if (c == '"' && error_.empty()) {
            error_ = "a quote inside an unquoted field";
        }
        field.push_back(static_cast<char>(c));
        int after = peek();
        if (after == ',' || after == '\n' || after == '\r' || after == kEof) {
            return;
        }
        c = get();
    }
}

std::string csv_line(const std::vector<std::string>& fields) {
    std::string out;
    for (size_t i = 0; i < fields.size(); ++i) {
        if (i > 0) {
            out.push_back(',');
        }
        const std::string& field = fields[i];
        if (field.find_first_of(",\"\r\n") == std::string::npos) {
            out += field;
            continue;
        }
        out.push_back('"');
        for (char c : field) {
            if (c == '"') {
                out.push_back('"');
            }
            out.push_back(c);
        }
        out.push_back('"');
    }
    out.push_back('\n');
    return out;
}

}  // namespace storegate::identity
