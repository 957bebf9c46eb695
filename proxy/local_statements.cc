#include "proxy/local_statements.h"

namespace storegate::proxy {

namespace {

const sql::Inspection* find(const std::unordered_map<std::string, sql::Inspection>& table,
                            std::string_view name) {
    auto it = table.find(std::string(name));
    return it == table.end() ? nullptr : &it->second;
}

}  // namespace

void LocalStatements::define(std::string_view name, const sql::Inspection& seen) {
    statements_[std::string(name)] = seen;
}

void LocalStatements::server_parse(std::string_view name) {
    if (name.empty()) {
        statements_.erase(std::string());
    }
}

const sql::Inspection* LocalStatements::statement(std::string_view name) const {
    return find(statements_, name);
}

bool LocalStatements::bind(std::string_view portal, std::string_view statement) {
    const auto* seen = find(statements_, statement);
    if (seen == nullptr) {
        return false;
    }
    portals_[std::string(portal)] = *seen;
    return true;
}

void LocalStatements::server_bind(std::string_view portal) {
    if (portal.empty()) {
        portals_.erase(std::string());
    }
}

const sql::Inspection* LocalStatements::portal(std::string_view name) const {
    return find(portals_, name);
}

bool LocalStatements::close(char kind, std::string_view name) {
    auto& table = kind == 'S' ? statements_ : portals_;
    return table.erase(std::string(name)) > 0;
}

void LocalStatements::clear() {
    statements_.clear();
    portals_.clear();
}

}  // namespace storegate::proxy
