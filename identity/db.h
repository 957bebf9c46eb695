// A blocking libpq connection for the identity command-line tools. Errors keep the server's
// SQLSTATE, detail and hint so the tools can report them the way PostgreSQL does. Control
// plane only: never used on the proxy's data path.
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace storegate::identity {

// An error from the server (with its SQLSTATE) or from libpq (empty SQLSTATE).
class DbError : public std::runtime_error {
  public:
    explicit DbError(const std::string& message, std::string sqlstate = {}, std::string detail = {},
                     std::string hint = {});

    const std::string& sqlstate() const { return sqlstate_; }
    const std::string& detail() const { return detail_; }
    const std::string& hint() const { return hint_; }

  private:
    std::string sqlstate_;
    std::string detail_;
    std::string hint_;
};

// Statement parameters, sent separately from the SQL text; nullopt is SQL NULL.
using Params = std::vector<std::optional<std::string>>;

// The rows of a successful statement.
class Rows {
  public:
    explicit Rows(PGresult* result) : result_(result, &PQclear) {}

    int size() const { return PQntuples(result_.get()); }
    bool is_null(int row, int column) const;
    // The value as text; empty for NULL.
    std::string_view text(int row, int column) const;
    std::optional<std::string> get(int row, int column) const;

  private:
    std::unique_ptr<PGresult, void (*)(PGresult*)> result_;
};

class Db {
  public:
    // Connects with a libpq conninfo string or URI; throws DbError. Messages never repeat the
    // DSN, which may hold a password.
    explicit Db(const std::string& dsn);

    // Runs one statement with parameters and returns its rows; throws DbError.
    Rows query(const std::string& sql, const Params& params = {});
    // Runs a script of one or more statements without parameters; throws DbError.
    void script(const std::string& sql);

    // Sends one statement without waiting for it, so the caller can prepare the next one
    // meanwhile; wait() returns its rows. One statement in flight at a time.
    void send(const std::string& sql, const Params& params);
    Rows wait();

  private:
    Rows take_result();

    std::unique_ptr<PGconn, void (*)(PGconn*)> conn_;
};

}  // namespace storegate::identity
