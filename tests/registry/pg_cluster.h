// A throwaway PostgreSQL 15 cluster for tests: initdb into a temporary folder (as the OS user
// postgres when running as root, since initdb refuses root), started on a free loopback port,
// stopped and removed when the test program ends.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

namespace storegate::test_support {

class PgCluster {
  public:
    // The cluster shared by the tests of this program, started on first use; null when
    // PostgreSQL 15 is not installed. Fails the calling test when it cannot start.
    static PgCluster* shared();

    PgCluster();
    ~PgCluster();
    PgCluster(const PgCluster&) = delete;
    PgCluster& operator=(const PgCluster&) = delete;

    int port() const { return port_; }
    // Superuser DSN for `database`.
    std::string dsn(const std::string& database = "postgres") const;
    // A new empty database with a unique name; returns the name.
    std::string create_database();
    // Ends every backend connected to `database` (the server stays up), as a network failure
    // or a registry restart would.
    void terminate_connections(const std::string& database);
    void stop();
    void start();
    bool running() const { return running_; }

  private:
    std::string run_as_postgres(const std::string& command) const;

    std::string dir_;
    int port_ = 0;
    bool running_ = false;
    int databases_ = 0;
};

// Runs `sql` on `dsn`; throws std::runtime_error on failure. Returns the first column of the
// first row, or "" when there is none.
std::string query(const std::string& dsn, const std::string& sql);

namespace detail {

inline constexpr const char* kBin = "/usr/lib/postgresql/15/bin";

// A port nothing listens on right now, chosen by the kernel.
inline int free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        throw std::runtime_error("cannot find a free loopback port");
    }
    ::close(fd);
    return ntohs(addr.sin_port);
}

class ClusterEnvironment : public ::testing::Environment {
  public:
    void TearDown() override { cluster.reset(); }
    std::unique_ptr<PgCluster> cluster;
};

inline ClusterEnvironment* environment() {
    static ClusterEnvironment* env = [] {
        auto* e = new ClusterEnvironment;
        ::testing::AddGlobalTestEnvironment(e);  // gtest owns and deletes it
        return e;
    }();
    return env;
}
// Registers the environment before RUN_ALL_TESTS so that its TearDown runs.
inline ClusterEnvironment* const kRegistered = environment();

}  // namespace detail

inline PgCluster* PgCluster::shared() {
    if (!std::filesystem::exists(std::string(detail::kBin) + "/initdb")) {
        return nullptr;
    }
    auto& cluster = detail::environment()->cluster;
    if (!cluster) {
        cluster = std::make_unique<PgCluster>();
    }
    return cluster.get();
}

inline std::string PgCluster::run_as_postgres(const std::string& command) const {
    // initdb and postgres refuse to run as root.
    std::string full = ::geteuid() == 0 ? "runuser -u postgres -- " + command : command;
    full += " >>" + dir_ + "/commands.log 2>&1";
    if (std::system(full.c_str()) != 0) {
        throw std::runtime_error("failed: " + command + " (see " + dir_ + "/commands.log)");
    }
    return full;
}

inline PgCluster::PgCluster() {
    char pattern[] = "/tmp/storegate-pg-XXXXXX";
    if (::mkdtemp(pattern) == nullptr) {
        throw std::runtime_error("mkdtemp failed");
    }
    dir_ = pattern;
    if (::geteuid() == 0) {
        const passwd* pg = ::getpwnam("postgres");
        if (pg == nullptr || ::chown(dir_.c_str(), pg->pw_uid, pg->pw_gid) != 0) {
            throw std::runtime_error("cannot hand " + dir_ + " to the postgres user");
        }
    }
    run_as_postgres(std::string(detail::kBin) + "/initdb -D " + dir_ +
                    "/data -U postgres --auth=trust -E UTF8 --no-sync");
    port_ = detail::free_port();
    start();
}

inline PgCluster::~PgCluster() {
    try {
        stop();
    } catch (const std::exception&) {
        // The folder is removed anyway; a server still running there shuts itself down.
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
}

inline void PgCluster::start() {
    run_as_postgres(std::string(detail::kBin) + "/pg_ctl -D " + dir_ + "/data -l " + dir_ +
                    "/server.log -w -o \"-p " + std::to_string(port_) + " -k " + dir_ +
                    " -c listen_addresses=127.0.0.1 -c fsync=off\" start");
    running_ = true;
}

inline void PgCluster::stop() {
    if (running_) {
        running_ = false;
        run_as_postgres(std::string(detail::kBin) + "/pg_ctl -D " + dir_ + "/data -m fast -w stop");
    }
}

inline std::string PgCluster::dsn(const std::string& database) const {
    return "host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres dbname=" + database;
}

inline std::string PgCluster::create_database() {
    std::string name = "test_" + std::to_string(::getpid()) + "_" + std::to_string(++databases_);
    query(dsn(), "CREATE DATABASE " + name);
    return name;
}

inline void PgCluster::terminate_connections(const std::string& database) {
    query(dsn(), "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '" +
                     database + "' AND pid <> pg_backend_pid()");
}

inline std::string query(const std::string& dsn, const std::string& sql) {
    std::unique_ptr<PGconn, void (*)(PGconn*)> conn(PQconnectdb(dsn.c_str()), &PQfinish);
    if (PQstatus(conn.get()) != CONNECTION_OK) {
        throw std::runtime_error(std::string("connect: ") + PQerrorMessage(conn.get()));
    }
    std::unique_ptr<PGresult, void (*)(PGresult*)> result(PQexec(conn.get(), sql.c_str()),
                                                          &PQclear);
    ExecStatusType status = PQresultStatus(result.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        throw std::runtime_error(sql + ": " + PQresultErrorMessage(result.get()));
    }
    if (PQntuples(result.get()) == 0 || PQnfields(result.get()) == 0) {
        return "";
    }
    return PQgetvalue(result.get(), 0, 0);
}

}  // namespace storegate::test_support
