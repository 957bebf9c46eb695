// The file registry reuses the configuration's TOML reader, so both files report problems the
// same way: every one at once, each with its line.
#include "registry/file_registry.h"

#include <toml++/toml.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "config/section_reader.h"

namespace storegate::registry {

namespace {

using config::EnumName;
using config::SectionReader;

constexpr EnumName<BackendKind> kKinds[] = {
    {"shared", BackendKind::kShared},
    {"dedicated", BackendKind::kDedicated},
};
constexpr EnumName<std::string_view> kBackendStatuses[] = {
    {"active", "active"},
    {"disabled", "disabled"},
};

void require(SectionReader& r, std::string_view key, const std::string& value) {
    if (value.empty()) {
        r.error(key, "is required");
    }
}

// Reads a uuid-valued key; a missing key leaves `out` nil and is reported when `required`.
void read_uuid(SectionReader& r, std::string_view key, Uuid& out, bool required) {
    std::string text;
    if (!r.string(key, text)) {
        if (required) {
            r.error(key, "is required");
        }
        return;
    }
    if (auto id = Uuid::parse(text)) {
        out = *id;
    } else {
        r.error(key, "expected a uuid (8-4-4-4-12 hex digits), got \"" + text + "\"");
    }
}

Backend read_backend(SectionReader r) {
    Backend b;
    r.string("db_key", b.db_key);
    require(r, "db_key", b.db_key);
    r.enumeration("kind", b.kind, kKinds);
    r.string("host", b.host);
    require(r, "host", b.host);
    r.integer("port", b.port, 1, 65535);
    r.string("database_name", b.database_name);
    require(r, "database_name", b.database_name);
    r.string("username", b.username);
    require(r, "username", b.username);
    r.string("password_secret_ref", b.password_secret_ref);
    std::string_view status = b.status;
    if (r.enumeration("status", status, kBackendStatuses)) {
        b.status = std::string(status);
    }
    std::string_view sslmode;
    if (r.enumeration("sslmode", sslmode, config::kSslModes)) {
        b.sslmode = std::string(sslmode);
    }
    r.finish();
    return b;
}

Tenant read_tenant(SectionReader r) {
    Tenant t;
    read_uuid(r, "id", t.id, true);
    r.string("name", t.name);
    r.string("slug", t.slug);
    r.string("common_db_key", t.common_db_key);
    r.finish();
    return t;
}

Store read_store(SectionReader r) {
    Store s;
    read_uuid(r, "id", s.id, true);
    read_uuid(r, "tenant_id", s.tenant_id, false);
    r.string("slug", s.slug);
    r.string("name", s.name);
    r.string("status", s.status);
    require(r, "status", s.status);
    r.string("db_key", s.db_key);
    r.boolean("paused", s.paused);
    r.finish();
    return s;
}

// Checks that span entries: unique keys and references that resolve. Entries are named as in
// the file ("stores[2].db_key") so each error carries the right line.
class CrossCheck {
  public:
    CrossCheck(config::ReadContext& ctx, const Snapshot& snapshot) : ctx_(ctx), s_(snapshot) {}

    void run() {
        std::set<std::string> db_keys;
        for (size_t i = 0; i < s_.backends.size(); ++i) {
            unique(db_keys, s_.backends[i].db_key, "backends", i, "db_key");
        }
        std::set<std::string> tenant_ids, tenant_slugs, store_ids, store_slugs;
        for (size_t i = 0; i < s_.tenants.size(); ++i) {
            const Tenant& t = s_.tenants[i];
            unique(tenant_ids, t.id.to_string(), "tenants", i, "id");
            unique(tenant_slugs, t.slug, "tenants", i, "slug");
            known(db_keys, t.common_db_key, "tenants", i, "common_db_key", "backend db_key");
        }
        for (size_t i = 0; i < s_.stores.size(); ++i) {
            const Store& st = s_.stores[i];
            unique(store_ids, st.id.to_string(), "stores", i, "id");
            unique(store_slugs, st.slug, "stores", i, "slug");
            known(db_keys, st.db_key, "stores", i, "db_key", "backend db_key");
            std::string tenant = st.tenant_id.is_nil() ? "" : st.tenant_id.to_string();
            known(tenant_ids, tenant, "stores", i, "tenant_id", "tenant id");
        }
    }

  private:
    void report(std::string_view array, size_t i, std::string_view key, std::string message) {
        std::string entry = std::string(array) + "[" + std::to_string(i) + "]";
        std::string dotted = entry + "." + std::string(key);
        int line = ctx_.line_of(dotted);
        ctx_.errors->push_back({dotted, line ? line : ctx_.line_of(entry), std::move(message)});
    }
    // Empty values are skipped: they are optional, or already reported as missing.
    void unique(std::set<std::string>& seen, const std::string& value, std::string_view array,
                size_t i, std::string_view key) {
        if (!value.empty() && !seen.insert(value).second) {
            report(array, i, key, "duplicate " + std::string(key) + " \"" + value + "\"");
        }
    }
    void known(const std::set<std::string>& names, const std::string& value, std::string_view array,
               size_t i, std::string_view key, std::string_view what) {
        if (!value.empty() && !names.contains(value)) {
            report(array, i, key, "unknown " + std::string(what) + " \"" + value + "\"");
        }
    }

    config::ReadContext& ctx_;
    const Snapshot& s_;
};

void read_snapshot(const toml::table& root, config::ReadContext& ctx, Snapshot& snapshot) {
    SectionReader r(ctx, "", &root);
    int64_t version = 1;
    r.integer("version", version, 0, INT64_MAX);
    snapshot.version = static_cast<uint64_t>(version);
    for (SectionReader& entry : r.table_array("backends")) {
        snapshot.backends.push_back(read_backend(entry));
    }
    for (SectionReader& entry : r.table_array("tenants")) {
        snapshot.tenants.push_back(read_tenant(entry));
    }
    for (SectionReader& entry : r.table_array("stores")) {
        snapshot.stores.push_back(read_store(entry));
    }
    r.finish();
    CrossCheck(ctx, snapshot).run();
}

}  // namespace

FileLoadResult load_file(const std::string& path) {
    FileLoadResult result;
    std::ifstream in(path, std::ios::binary);
    std::error_code ec;
    if (!in || !std::filesystem::is_regular_file(path, ec)) {
        result.errors.push_back(path + ": cannot read the registry file");
        return result;
    }
    std::ostringstream text;
    text << in.rdbuf();
    std::vector<config::ConfigError> errors;
    try {
        toml::table root = toml::parse(text.str(), path);
        config::ReadContext ctx{&errors, std::filesystem::path(path).parent_path(), {}};
        read_snapshot(root, ctx, result.snapshot);
    } catch (const toml::parse_error& e) {
        errors.push_back(
            {"", static_cast<int>(e.source().begin.line), std::string(e.description())});
    }
    std::stable_sort(errors.begin(), errors.end(),
                     [](const auto& a, const auto& b) { return a.line < b.line; });
    for (const config::ConfigError& error : errors) {
        result.errors.push_back(error.to_string(path));
    }
    return result;
}

std::vector<std::string> load_file_into(const std::string& path, RoutingTable& table) {
    FileLoadResult result = load_file(path);
    if (result.errors.empty()) {
        table.replace(result.snapshot);
    }
    return result.errors;
}

}  // namespace storegate::registry
