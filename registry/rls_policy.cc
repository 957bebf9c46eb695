#include "registry/rls_policy.h"

#include <vector>

namespace storegate::registry {

// A double-quoted identifier (SQL "Identifiers and Key Words"): embedded quotes doubled.
static std::string quote_identifier(const std::string& name) {
    std::string out = "\"";
    for (char c : name) {
        out += c;
        if (c == '"') {
            out += '"';
        }
    }
    return out + "\"";
}

static std::optional<std::string> quote_qualified(const std::string& name) {
    std::vector<std::string> parts;
    size_t start = 0;
    for (;;) {
        size_t dot = name.find('.', start);
        parts.push_back(name.substr(start, dot == std::string::npos ? dot : dot - start));
        if (dot == std::string::npos) {
            break;
        }
        start = dot + 1;
    }
    if (parts.size() > 2) {
        return std::nullopt;
    }
    std::string out;
    for (const auto& part : parts) {
        if (part.empty()) {
            return std::nullopt;
        }
        out += (out.empty() ? "" : ".") + quote_identifier(part);
    }
    return out;
}

std::optional<std::string> rls_policy_sql(const std::string& table, const std::string& column) {
    auto qualified = quote_qualified(table);
    if (!qualified || column.empty()) {
        return std::nullopt;
    }
    std::string col = quote_identifier(column);
    // The policy name carries the column so policies for two columns do not collide.
    std::string policy = quote_identifier("storegate_store_isolation_" + column);
    // current_setting(..., true) is NULL when the setting is absent, and a comparison with
    // NULL is never true: a session storegate did not tag sees no rows at all.
    std::string match = col + "::text = current_setting('storegate.store_id', true)";
    return "ALTER TABLE " + *qualified + " ENABLE ROW LEVEL SECURITY;\n" + "ALTER TABLE " +
           *qualified + " FORCE ROW LEVEL SECURITY;\n" + "DROP POLICY IF EXISTS " + policy +
           " ON " + *qualified + ";\n" + "CREATE POLICY " + policy + " ON " + *qualified +
           "\n    USING (" + match + ")\n    WITH CHECK (" + match + ");\n";
}

}  // namespace storegate::registry
