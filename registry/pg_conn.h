// A thin owner of a libpq connection and its results, for the control plane (registry loading,
// migrations, the watcher). Blocking calls: never use it on the data path.
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace storegate::registry {

class PgResult {
  public:
    PgResult() = default;
    explicit PgResult(PGresult* result) : result_(result, &PQclear) {}

    // True when the command succeeded (with or without rows).
    bool ok() const;
    // The server's message when !ok(), one line, never containing parameters.
    std::string error() const;
    int rows() const { return result_ ? PQntuples(result_.get()) : 0; }
    bool is_null(int row, int column) const;
    std::string text(int row, int column) const;  // "" for NULL
    PGresult* get() const { return result_.get(); }

  private:
    std::unique_ptr<PGresult, void (*)(PGresult*)> result_{nullptr, &PQclear};
};

class PgConn {
  public:
    // Connects with `dsn` (conninfo or URI). On failure ok() is false and error() says why
    // without the DSN's password.
    explicit PgConn(const std::string& dsn, const std::string& application_name = "storegate");

    bool ok() const;
    std::string error() const;
    PGconn* get() const { return conn_.get(); }

    PgResult exec(const std::string& sql) const;
    // Parameters are sent as text, separately from the statement (no quoting needed).
    PgResult exec(const std::string& sql, const std::vector<std::string>& params) const;
    // Runs each statement in order; stops at the first failure and returns its error.
    std::string exec_all(std::initializer_list<std::string_view> statements) const;

  private:
    std::unique_ptr<PGconn, void (*)(PGconn*)> conn_{nullptr, &PQfinish};
    std::string parse_error_;
};

}  // namespace storegate::registry
