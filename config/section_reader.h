// Typed, error-collecting access to one table of a parsed TOML document. Internal to config/:
// each read checks the type and range, records the key's line, and remembers the key so that
// finish() can report the ones nobody asked for (almost always typos).
#pragma once

#include <toml++/toml.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace storegate::config {

template <typename E>
struct EnumName {
    std::string_view name;
    E value;
};

// libpq's sslmode values, for tls.server_sslmode and per-backend overrides.
inline constexpr EnumName<std::string_view> kSslModes[] = {
    {"disable", "disable"}, {"allow", "allow"},         {"prefer", "prefer"},
    {"require", "require"}, {"verify-ca", "verify-ca"}, {"verify-full", "verify-full"},
};

// Shared by every reader of one document.
struct ReadContext {
    std::vector<ConfigError>* errors = nullptr;
    std::filesystem::path base_dir;    // relative paths in the file resolve against this folder
    std::map<std::string, int> lines;  // dotted key -> line, for checks that span sections

    int line_of(const std::string& dotted) const;
};

class SectionReader {
  public:
    SectionReader(ReadContext& context, std::string prefix, const toml::table* table);

    // Each returns true when the key was present and valid; `out` is untouched otherwise.
    bool string(std::string_view key, std::string& out);
    // A file that must exist; a relative path resolves against the configuration's folder.
    // `out` receives the resolved path even when the file is missing, so later checks see it.
    bool path(std::string_view key, std::string& out);
    bool integer(std::string_view key, int& out, int64_t min, int64_t max);
    bool integer(std::string_view key, int64_t& out, int64_t min, int64_t max);
    // Reads `<key>_ms`, a whole number of milliseconds.
    bool millis(std::string_view key, Millis& out, int64_t min);
    bool boolean(std::string_view key, bool& out);
    bool string_list(std::string_view key, std::vector<std::string>& out);
    // An array of tables ([[key]] blocks): one reader per element, named "key[i]".
    std::vector<SectionReader> table_array(std::string_view key);

    template <typename E, size_t N>
    bool enumeration(std::string_view key, E& out, const EnumName<E> (&names)[N]);
    template <typename E, size_t N>
    bool enum_list(std::string_view key, std::vector<E>& out, const EnumName<E> (&names)[N]);

    // A nested table (a section, or [pool.db]); null when absent or not a table.
    const toml::table* subtable(std::string_view key);
    SectionReader section(std::string_view key);
    SectionReader child(const std::string& key, const toml::table* table);

    void error(std::string_view key, const std::string& message);
    void error_at(const std::string& key, const toml::node& node, const std::string& message);
    // Reports every key of the table that no read asked for.
    void finish();

  private:
    const toml::node* take(std::string_view key);
    // Null when absent, or (reported) when not an array.
    const toml::array* take_array(std::string_view key);
    std::string dotted(std::string_view key) const;
    template <typename E, size_t N>
    bool match(const toml::node& node, std::string_view key, E& out, const EnumName<E> (&names)[N]);

    ReadContext* context_;
    std::string prefix_;
    const toml::table* table_;
    std::set<std::string, std::less<>> known_;
};

std::string_view type_name(const toml::node& node);
std::string join_names(const std::vector<std::string_view>& names);

template <typename E, size_t N>
bool SectionReader::match(const toml::node& node, std::string_view key, E& out,
                          const EnumName<E> (&names)[N]) {
    std::vector<std::string_view> accepted;
    if (const auto* text = node.as_string()) {
        for (const auto& entry : names) {
            if (entry.name == text->get()) {
                out = entry.value;
                return true;
            }
            accepted.push_back(entry.name);
        }
        error_at(dotted(key), node,
                 "expected one of " + join_names(accepted) + ", got \"" + text->get() + "\"");
        return false;
    }
    error_at(dotted(key), node, "expected a string, got " + std::string(type_name(node)));
    return false;
}

template <typename E, size_t N>
bool SectionReader::enumeration(std::string_view key, E& out, const EnumName<E> (&names)[N]) {
    const toml::node* node = take(key);
    return node != nullptr && match(*node, key, out, names);
}

template <typename E, size_t N>
bool SectionReader::enum_list(std::string_view key, std::vector<E>& out,
                              const EnumName<E> (&names)[N]) {
    const toml::array* array = take_array(key);
    if (array == nullptr) {
        return false;
    }
    std::vector<E> values;
    bool ok = true;
    for (const toml::node& element : *array) {
        E value{};
        if (match(element, key, value, names)) {
            values.push_back(value);
        } else {
            ok = false;
        }
    }
    if (ok) {
        out = std::move(values);
    }
    return ok;
}

}  // namespace storegate::config
