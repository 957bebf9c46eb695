#include "config/section_reader.h"

#include <algorithm>

namespace storegate::config {

namespace {

constexpr std::string_view kMillisSuffix = "_ms";

int line_of(const toml::node& node) {
    return static_cast<int>(node.source().begin.line);
}

// Edit distance, to suggest the key a typo was meant to be.
size_t distance(std::string_view a, std::string_view b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) {
        row[j] = j;
    }
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diagonal = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            size_t above = row[j];
            row[j] =
                std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diagonal = above;
        }
    }
    return row[b.size()];
}

}  // namespace

std::string_view type_name(const toml::node& node) {
    switch (node.type()) {
        case toml::node_type::table:
            return "a table";
        case toml::node_type::array:
            return "an array";
        case toml::node_type::string:
            return "a string";
        case toml::node_type::integer:
            return "an integer";
        case toml::node_type::floating_point:
            return "a float";
        case toml::node_type::boolean:
            return "a boolean";
        default:
            return "a date/time";
    }
}

std::string join_names(const std::vector<std::string_view>& names) {
    std::string out;
    for (size_t i = 0; i < names.size(); ++i) {
        out += (i == 0 ? "" : ", ");
        out += names[i];
    }
    return out;
}

int ReadContext::line_of(const std::string& dotted) const {
    auto it = lines.find(dotted);
    return it == lines.end() ? 0 : it->second;
}

SectionReader::SectionReader(ReadContext& context, std::string prefix, const toml::table* table)
    : context_(&context), prefix_(std::move(prefix)), table_(table) {
    if (table_ != nullptr && !prefix_.empty()) {
        context_->lines[prefix_] = config::line_of(*table_);
    }
}

std::string SectionReader::dotted(std::string_view key) const {
    return prefix_.empty() ? std::string(key) : prefix_ + "." + std::string(key);
}

const toml::node* SectionReader::take(std::string_view key) {
    known_.emplace(key);
    const toml::node* node = table_ == nullptr ? nullptr : table_->get(key);
    if (node != nullptr) {
        context_->lines[dotted(key)] = config::line_of(*node);
    }
    return node;
}

const toml::array* SectionReader::take_array(std::string_view key) {
    const toml::node* node = take(key);
    if (node == nullptr) {
        return nullptr;
    }
    const toml::array* array = node->as_array();
    if (array == nullptr) {
        error_at(dotted(key), *node, "expected an array, got " + std::string(type_name(*node)));
    }
    return array;
}

void SectionReader::error(std::string_view key, const std::string& message) {
    std::string name = key.empty() ? prefix_ : dotted(key);
    int line = context_->line_of(name);
    if (line == 0) {
        line = context_->line_of(prefix_);
    }
    context_->errors->push_back({name, line, message});
}

void SectionReader::error_at(const std::string& key, const toml::node& node,
                             const std::string& message) {
    context_->errors->push_back({key, config::line_of(node), message});
}

bool SectionReader::string(std::string_view key, std::string& out) {
    const toml::node* node = take(key);
    if (node == nullptr) {
        return false;
    }
    if (const auto* text = node->as_string()) {
        out = text->get();
        return true;
    }
    error_at(dotted(key), *node, "expected a string, got " + std::string(type_name(*node)));
    return false;
}

bool SectionReader::path(std::string_view key, std::string& out) {
    std::string value;
    if (!string(key, value) || value.empty()) {
        return false;
    }
    std::filesystem::path resolved(value);
    if (resolved.is_relative()) {
        resolved = (context_->base_dir / resolved).lexically_normal();
    }
    out = resolved.string();
    std::error_code ec;
    if (!std::filesystem::exists(resolved, ec)) {
        error(key, "file not found: " + resolved.string());
        return false;
    }
    return true;
}

bool SectionReader::integer(std::string_view key, int64_t& out, int64_t min, int64_t max) {
    const toml::node* node = take(key);
    if (node == nullptr) {
        return false;
    }
    const auto* number = node->as_integer();
    if (number == nullptr) {
        error_at(dotted(key), *node, "expected an integer, got " + std::string(type_name(*node)));
        return false;
    }
    if (number->get() < min) {
        error_at(dotted(key), *node, "must be at least " + std::to_string(min));
        return false;
    }
    if (number->get() > max) {
        error_at(dotted(key), *node, "must be at most " + std::to_string(max));
        return false;
    }
    out = number->get();
    return true;
}

bool SectionReader::integer(std::string_view key, int& out, int64_t min, int64_t max) {
    int64_t wide = out;
    if (!integer(key, wide, min, max)) {
        return false;
    }
    out = static_cast<int>(wide);
    return true;
}

bool SectionReader::millis(std::string_view key, Millis& out, int64_t min) {
    // A week bounds every timeout and keeps conversions to other clocks far from overflow.
    constexpr int64_t kMaxMillis = int64_t{7} * 24 * 3600 * 1000;
    int64_t value = out.count();
    if (!integer(std::string(key) + std::string(kMillisSuffix), value, min, kMaxMillis)) {
        return false;
    }
    out = Millis(value);
    return true;
}

bool SectionReader::boolean(std::string_view key, bool& out) {
    const toml::node* node = take(key);
    if (node == nullptr) {
        return false;
    }
    if (const auto* value = node->as_boolean()) {
        out = value->get();
        return true;
    }
    error_at(dotted(key), *node, "expected a boolean, got " + std::string(type_name(*node)));
    return false;
}

std::vector<SectionReader> SectionReader::table_array(std::string_view key) {
    std::vector<SectionReader> readers;
    const toml::array* array = take_array(key);
    if (array == nullptr) {
        return readers;
    }
    for (size_t i = 0; i < array->size(); ++i) {
        std::string name = std::string(key) + "[" + std::to_string(i) + "]";
        if (const toml::table* table = (*array)[i].as_table()) {
            readers.push_back(child(name, table));
        } else {
            error_at(dotted(name), (*array)[i],
                     "expected a table, got " + std::string(type_name((*array)[i])));
        }
    }
    return readers;
}

bool SectionReader::string_list(std::string_view key, std::vector<std::string>& out) {
    const toml::array* array = take_array(key);
    if (array == nullptr) {
        return false;
    }
    std::vector<std::string> values;
    for (const toml::node& element : *array) {
        if (const auto* text = element.as_string()) {
            values.push_back(text->get());
        } else {
            error_at(dotted(key), element,
                     "expected strings, got " + std::string(type_name(element)));
            return false;
        }
    }
    out = std::move(values);
    return true;
}

const toml::table* SectionReader::subtable(std::string_view key) {
    const toml::node* node = take(key);
    if (node == nullptr) {
        return nullptr;
    }
    if (const toml::table* table = node->as_table()) {
        return table;
    }
    error_at(dotted(key), *node, "expected a table, got " + std::string(type_name(*node)));
    return nullptr;
}

SectionReader SectionReader::section(std::string_view key) {
    return SectionReader(*context_, dotted(key), subtable(key));
}

SectionReader SectionReader::child(const std::string& key, const toml::table* table) {
    return SectionReader(*context_, dotted(key), table);
}

void SectionReader::finish() {
    if (table_ == nullptr) {
        return;
    }
    for (const auto& [key, node] : *table_) {
        std::string_view name = key.str();
        if (known_.contains(name)) {
            continue;
        }
        std::string message = prefix_.empty() ? "unknown section" : "unknown key";
        if (known_.contains(std::string(name) + std::string(kMillisSuffix))) {
            message += " (durations are whole milliseconds: " + std::string(name) + "_ms)";
        } else {
            for (const std::string& candidate : known_) {
                size_t d = distance(name, candidate);
                if (d <= 2 && d * 2 < name.size()) {
                    message += " (did you mean " + dotted(candidate) + "?)";
                    break;
                }
            }
        }
        error_at(dotted(name), node, message);
    }
}

}  // namespace storegate::config
