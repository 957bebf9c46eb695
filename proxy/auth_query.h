// auth.auth_query: client credentials read from the registry database instead of a users file
// (the query takes the user name as $1 and returns its name and secret, as PgBouncer's
// auth_query does). Queries run on a thread of their own, never on a worker, over one reused
// connection. Shared by the sessions of one runtime.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "proxy/net.h"
#include "proxy/users_file.h"
#include "registry/pg_conn.h"

namespace storegate::proxy {

class AuthQuery {
  public:
    AuthQuery(std::string dsn, std::string query)
        : dsn_(std::move(dsn)), query_(std::move(query)) {}
    ~AuthQuery() { pool_.join(); }

    // The user's credential, or nothing when the query finds no row, returns no usable secret
    // or fails (then logged): the client fails exactly as an unknown user does.
    awaitable<std::optional<Credential>> lookup(const std::string& user);

  private:
    std::optional<Credential> fetch(const std::string& user);

    std::string dsn_;
    std::string query_;
    std::mutex mutex_;
    std::unique_ptr<registry::PgConn> conn_;
    asio::thread_pool pool_{1};
};

}  // namespace storegate::proxy
