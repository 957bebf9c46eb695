// `SET storegate.*` and `SHOW storegate.*` sent through the extended protocol in transaction
// pooling. storegate answers them itself, so the prepared statements and portals made of them
// never exist on a server: this table holds them per client, with the unnamed statement and
// unnamed portal replaced the way PostgreSQL replaces them. Pure code.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>

#include "proxy/sql_inspect.h"

namespace storegate::proxy {

class LocalStatements {
  public:
    // A Parse of a storegate statement under `name` ("" for the unnamed one).
    void define(std::string_view name, const sql::Inspection& seen);
    // A Parse that goes to the server: an unnamed one replaces a local unnamed statement.
    void server_parse(std::string_view name);
    // The local statement called `name`, or null.
    const sql::Inspection* statement(std::string_view name) const;
    // A Bind of a local statement; returns false when `statement` is not local.
    bool bind(std::string_view portal, std::string_view statement);
    // A Bind that goes to the server: an unnamed one replaces a local unnamed portal.
    void server_bind(std::string_view portal);
    const sql::Inspection* portal(std::string_view name) const;
    // Close: true when the statement or portal was local (and is now gone).
    bool close(char kind, std::string_view name);
    // Portals last until their transaction ends.
    void end_transaction() { portals_.clear(); }
    void clear();

  private:
    std::unordered_map<std::string, sql::Inspection> statements_;
    std::unordered_map<std::string, sql::Inspection> portals_;
};

}  // namespace storegate::proxy
