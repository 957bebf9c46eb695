#include "identity/importer.h"

#include <boost/json.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <unordered_map>
#include <vector>

#include "common/uuid.h"
#include "identity/csv.h"
#include "identity/phone.h"
#include "identity/progress.h"
#include "identity/tenant.h"

namespace storegate::identity {

namespace {

namespace json = boost::json;

// A row that lost races with concurrent writers this many times is reported, not retried.
constexpr int kMaxAttempts = 5;

constexpr const char* kBatchSql =
    "SELECT ord, customer_id, outcome, sqlstate, message "
    "FROM identity.resolve_batch($1::uuid, $2::jsonb, $3) ORDER BY ord";

struct Columns {
    int store = -1;
    int email = -1;
    int phone = -1;
    int external = -1;
    int email_verified = -1;
    int phone_verified = -1;
    int external_verified = -1;
    int verified = -1;
};

// A row on its way through the server. Rows refused before the server keep their place in the
// batch so that the rejects file lists rows in input order.
struct Row {
    uint64_t line = 0;
    std::vector<std::string> fields;
    std::string json;
    std::string problem;  // why the row is refused before reaching the server
    int attempts = 0;
};

std::string_view trim(std::string_view text) {
    size_t begin = text.find_first_not_of(" \t");
    if (begin == std::string_view::npos) {
        return {};
    }
    size_t end = text.find_last_not_of(" \t");
    return text.substr(begin, end - begin + 1);
}

std::string lower(std::string_view text) {
    std::string out(text);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') {
            c = static_cast<char>(c - 'A' + 'a');
        }
    }
    return out;
}

int* column_slot(Columns& columns, const std::string& name) {
    static const std::pair<const char*, int Columns::*> kNames[] = {
        {"store", &Columns::store},
        {"store_id", &Columns::store},
        {"email", &Columns::email},
        {"phone", &Columns::phone},
        {"external_id", &Columns::external},
        {"external", &Columns::external},
        {"email_verified", &Columns::email_verified},
        {"phone_verified", &Columns::phone_verified},
        {"external_verified", &Columns::external_verified},
        {"verified", &Columns::verified},
    };
    for (const auto& [known, member] : kNames) {
        if (name == known) {
            return &(columns.*member);
        }
    }
    return nullptr;
}

// Maps header names to columns; names it does not know go to `ignored`.
Columns map_columns(const std::vector<std::string>& header, std::vector<std::string>& ignored) {
    Columns columns;
    for (size_t i = 0; i < header.size(); ++i) {
        std::string name = lower(trim(header[i]));
        int* slot = column_slot(columns, name);
        if (slot == nullptr) {
            ignored.push_back(name);
            continue;
        }
        if (*slot >= 0) {
            throw std::runtime_error("the header names column " + name + " twice");
        }
        *slot = static_cast<int>(i);
    }
    if (columns.email < 0 && columns.phone < 0 && columns.external < 0) {
        throw std::runtime_error(
            "the header has none of the columns email, phone, external_id (first line)");
    }
    return columns;
}

uint64_t file_size_or_zero(const std::string& path) {
    std::error_code error;
    uint64_t size = std::filesystem::file_size(path, error);
    return error ? 0 : size;
}

std::optional<bool> parse_flag(std::string_view text) {
    std::string value = lower(text);
    if (value == "true" || value == "t" || value == "yes" || value == "y" || value == "1") {
        return true;
    }
    if (value == "false" || value == "f" || value == "no" || value == "n" || value == "0") {
        return false;
    }
    return std::nullopt;
}

}  // namespace

class Importer {
  public:
    Importer(Db& db, const ImportOptions& options, std::ostream& progress_out, bool terminal);

    ImportSummary run();

  private:
    void read_header();
    void load_stores();
    std::string_view cell(const std::vector<std::string>& fields, int column) const;
    std::string prepare(const std::vector<std::string>& fields, std::string& out);
    std::string store_for(std::string_view text, std::string& store_id) const;
    std::string flag_for(const std::vector<std::string>& fields, int column, bool& out) const;
    std::string add_identities(const std::vector<std::string>& fields, json::array& out) const;
    void reject(uint64_t line, const std::vector<std::string>& fields, const std::string& why);
    void flush();
    void collect();
    void count(Row& row, std::string_view outcome, std::string_view message);

    Db& db_;
    const ImportOptions& options_;
    std::ifstream in_;
    std::unique_ptr<CsvReader> reader_;
    std::ofstream rejects_;
    std::vector<std::string> header_;
    Columns columns_;
    std::unordered_map<std::string, std::string> stores_;  // uuid text or slug -> uuid text
    std::unique_ptr<PhoneCheck> phone_;
    std::vector<Row> pending_;
    std::vector<Row> in_flight_;
    std::vector<Row> retry_;
    ImportSummary summary_;
    Progress progress_;
};

Importer::Importer(Db& db, const ImportOptions& options, std::ostream& progress_out, bool terminal)
    : db_(db),
      options_(options),
      in_(options.path, std::ios::binary),
      progress_(progress_out, "import", file_size_or_zero(options.path), terminal) {
    if (!in_) {
        throw std::runtime_error("cannot read " + options.path);
    }
    reader_ = std::make_unique<CsvReader>(in_);
    summary_.rejects_path =
        options.rejects_path.empty() ? options.path + ".rejects.csv" : options.rejects_path;
}

ImportSummary Importer::run() {
    read_header();
    load_stores();
    phone_ = std::make_unique<PhoneCheck>(default_calling_code(db_, options_.tenant_id));

    std::vector<std::string> fields;
    while (reader_->next(fields)) {
        if (fields.size() == 1 && trim(fields[0]).empty()) {
            continue;  // blank line
        }
        ++summary_.rows;
        Row row{reader_->line(), std::move(fields), {}, {}, 0};
        row.problem = prepare(row.fields, row.json);
        pending_.push_back(std::move(row));
        if (pending_.size() >= options_.batch_size) {
            flush();
        }
    }
    flush();
    collect();
    while (!retry_.empty()) {
        flush();
        collect();
    }
    progress_.finish(summary_.rows);
    return summary_;
}

void Importer::read_header() {
    if (!reader_->next(header_) || !reader_->error().empty()) {
        throw std::runtime_error(options_.path + ": no readable header line");
    }
    std::vector<std::string> ignored;
    columns_ = map_columns(header_, ignored);
    if (columns_.store < 0 && options_.default_store_id.empty()) {
        throw std::runtime_error("the file has no store column: name the store with --store");
    }
    for (const std::string& name : ignored) {
        std::cerr << "storegate identity import: ignoring column \"" << name << "\"\n";
    }
    rejects_.open(summary_.rejects_path, std::ios::binary | std::ios::trunc);
    if (!rejects_) {
        throw std::runtime_error("cannot write " + summary_.rejects_path);
    }
    std::vector<std::string> rejects_header{"line", "reason"};
    rejects_header.insert(rejects_header.end(), header_.begin(), header_.end());
    rejects_ << csv_line(rejects_header);
}

void Importer::load_stores() {
    Rows rows =
        db_.query("SELECT id::text, slug FROM identity.registry_stores WHERE tenant_id = $1::uuid",
                  {options_.tenant_id});
    for (int i = 0; i < rows.size(); ++i) {
        std::string id(rows.text(i, 0));
        stores_[id] = id;
        if (!rows.is_null(i, 1)) {
            stores_.emplace(std::string(rows.text(i, 1)), id);
        }
    }
}

std::string_view Importer::cell(const std::vector<std::string>& fields, int column) const {
    if (column < 0 || static_cast<size_t>(column) >= fields.size()) {
        return {};
    }
    return trim(fields[static_cast<size_t>(column)]);
}

// Turns a record into the JSON row resolve_batch takes; returns why not, or "".
std::string Importer::prepare(const std::vector<std::string>& fields, std::string& out) {
    if (!reader_->error().empty()) {
        return "malformed CSV: " + reader_->error();
    }
    if (fields.size() > header_.size()) {
        return "more fields than the header has columns";
    }
    std::string store_id = options_.default_store_id;
    std::string problem = store_for(cell(fields, columns_.store), store_id);
    if (problem.empty()) {
        json::array identities;
        problem = add_identities(fields, identities);
        out = json::serialize(json::object{{"store_id", store_id}, {"identities", identities}});
    }
    return problem;
}

std::string Importer::store_for(std::string_view text, std::string& store_id) const {
    if (text.empty()) {
        return store_id.empty() ? "no store" : "";
    }
    std::optional<Uuid> uuid = Uuid::parse(text);
    auto found = stores_.find(uuid ? uuid->to_string() : std::string(text));
    if (found == stores_.end()) {
        return "unknown store (not a store of this tenant)";
    }
    store_id = found->second;
    return "";
}

std::string Importer::flag_for(const std::vector<std::string>& fields, int column,
                               bool& out) const {
    std::string_view text = cell(fields, column);
    if (text.empty()) {
        text = cell(fields, columns_.verified);
    }
    if (text.empty()) {
        out = options_.verified;
        return "";
    }
    std::optional<bool> flag = parse_flag(text);
    if (!flag) {
        return "invalid verified flag (true or false expected)";
    }
    out = *flag;
    return "";
}

std::string Importer::add_identities(const std::vector<std::string>& fields,
                                     json::array& out) const {
    const struct {
        const char* type;
        int value;
        int verified;
    } kinds[] = {{"email", columns_.email, columns_.email_verified},
                 {"phone", columns_.phone, columns_.phone_verified},
                 {"external", columns_.external, columns_.external_verified}};
    for (const auto& kind : kinds) {
        std::string_view value = cell(fields, kind.value);
        if (value.empty()) {
            continue;
        }
        bool verified = false;
        std::string problem = flag_for(fields, kind.verified, verified);
        if (problem.empty() && std::string_view(kind.type) == "phone") {
            problem = phone_->problem(value);
        }
        if (!problem.empty()) {
            return problem;
        }
        json::object item{{"type", kind.type}, {"value", value}, {"verified", verified}};
        if (std::string_view(kind.type) == "external" && !options_.external_namespace.empty()) {
            item["namespace"] = options_.external_namespace;
        }
        out.push_back(std::move(item));
    }
    return out.empty() ? "no email, phone or external id" : "";
}

void Importer::reject(uint64_t line, const std::vector<std::string>& fields,
                      const std::string& why) {
    ++summary_.rejected;
    ++summary_.reasons[why];
    std::vector<std::string> record{std::to_string(line), why};
    record.insert(record.end(), fields.begin(), fields.end());
    rejects_ << csv_line(record);
}

// Sends the pending rows (and those to retry) while the previous batch's results are taken
// first, so reading the file overlaps with the server's work on the batch in flight.
void Importer::flush() {
    if (pending_.empty() && retry_.empty()) {
        return;
    }
    collect();
    std::vector<Row> batch = std::move(retry_);
    retry_.clear();
    for (Row& row : pending_) {
        batch.push_back(std::move(row));
    }
    pending_.clear();
    std::string payload = "[";
    for (const Row& row : batch) {
        if (row.problem.empty()) {
            payload += (payload.size() > 1 ? "," : "") + row.json;
        }
    }
    payload += "]";
    db_.send(kBatchSql, {options_.tenant_id, payload, options_.source});
    in_flight_ = std::move(batch);
}

// Takes the results of the batch in flight; they come in the order of the rows sent.
void Importer::collect() {
    if (in_flight_.empty()) {
        return;
    }
    Rows result = db_.wait();
    int next = 0;
    for (Row& row : in_flight_) {
        if (!row.problem.empty()) {
            reject(row.line, row.fields, row.problem);
        } else if (next < result.size()) {
            count(row, result.text(next, 2), result.text(next, 4));
            ++next;
        } else {
            reject(row.line, row.fields, "no result from the server");
        }
    }
    in_flight_.clear();
    progress_.update(reader_->bytes_read(), summary_.rows);
}

void Importer::count(Row& row, std::string_view outcome, std::string_view message) {
    if (outcome == "created") {
        ++summary_.created;
    } else if (outcome == "linked") {
        ++summary_.linked;
    } else if (outcome == "review") {
        ++summary_.queued;
    } else if (outcome == "retry" && ++row.attempts < kMaxAttempts) {
        retry_.push_back(std::move(row));
    } else if (outcome == "retry") {
        reject(row.line, row.fields, "kept conflicting with concurrent writers; import it again");
    } else {
        reject(row.line, row.fields, message.empty() ? "rejected" : std::string(message));
    }
}

ImportSummary import_customers(Db& db, const ImportOptions& options, std::ostream& progress,
                               bool terminal) {
    Importer importer(db, options, progress, terminal);
    return importer.run();
}

}  // namespace storegate::identity
