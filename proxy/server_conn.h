// One connection from storegate to a backend PostgreSQL server, logged in with the db_key's
// credentials. Belongs to one thread at a time: the session that checked it out, or the pool
// while it is idle (no operation is ever pending on an idle connection, which is what lets the
// pool hand it to a session on another thread).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "protocol/errors.h"
#include "proxy/byte_buffer.h"
#include "proxy/net.h"
#include "proxy/prepared_statements.h"
#include "proxy/server_stream.h"
#include "registry/model.h"

namespace storegate::proxy {

struct ConnectSettings {
    std::chrono::milliseconds timeout{5000};
    uint32_t max_message_size = 64u << 20;
    // libpq sslmode for db_keys without their own (registry sslmode column), and the contexts
    // for unverified (prefer, require) and verified (verify-ca, verify-full) TLS.
    std::string default_sslmode = "disable";
    BackendTls tls;
};

struct QueryResult {
    bool ok = false;      // the connection is usable (whatever the query's outcome)
    bool failed = false;  // the server answered with an ErrorResponse
    protocol::ErrorFields error;
};

class ServerConn {
  public:
    ServerConn(asio::any_io_executor ex, std::shared_ptr<const registry::Backend> backend,
               std::string password);
    ~ServerConn();

    // Connects, logs in and reads until the first ReadyForQuery. On failure `error` says why in
    // words fit for a client (it names the db_key and never a secret).
    awaitable<bool> connect(const ConnectSettings& settings, protocol::ErrorFields& error);
    // Runs one simple query (possibly several statements) and reads through ReadyForQuery,
    // tracking ParameterStatus and the transaction status.
    awaitable<QueryResult> simple_query(std::string_view sql);

    // Moves the socket to another thread's executor. Only while nothing is pending on it.
    void rebind(asio::any_io_executor ex);
    // Non-blocking probe of an idle connection: false if the server closed it or sent something
    // unprompted (a FATAL before termination, for instance).
    bool looks_alive();
    void close();

    Socket& socket() { return socket_; }
    ServerStream& stream() { return stream_; }
    const registry::Backend& backend() const { return *backend_; }
    const std::shared_ptr<const registry::Backend>& backend_ptr() const { return backend_; }
    const std::map<std::string, std::string>& params() const { return params_; }
    void set_param(std::string_view name, std::string_view value);
    int32_t backend_pid() const { return backend_pid_; }
    int32_t backend_secret() const { return backend_secret_; }
    char tx_status() const { return tx_status_; }
    void set_tx_status(char status) { tx_status_ = status; }
    uint64_t id() const { return id_; }
    Clock::time_point created() const { return created_; }
    Clock::time_point last_used() const { return last_used_; }
    void touch() { last_used_ = Clock::now(); }
    // Transaction pooling: statements prepared here, and the settings storegate applied for
    // the clients it served (name -> the SQL that applied it). `settings_dirty` means a client
    // changed settings in a way not recorded here: the next sync starts with RESET ALL.
    PreparedSet& prepared() { return prepared_; }
    // Transaction pooling: the read buffer a session relays this connection's answers through,
    // lent with the connection so that each transaction does not allocate its own.
    ByteBuffer& relay_buffer() { return relay_in_; }
    std::map<std::string, std::string>& applied_settings() { return applied_settings_; }
    bool settings_dirty = false;
    // A client's DEALLOCATE or DISCARD ALL ran here: what `prepared()` lists may be gone, so
    // the next sync starts with DEALLOCATE ALL and an empty list.
    bool prepared_dirty = false;

    // The address a CancelRequest for this connection must be sent to.
    const asio::generic::stream_protocol::endpoint& endpoint() const { return endpoint_; }

  private:
    awaitable<bool> open_socket(protocol::ErrorFields& error);
    awaitable<bool> login(protocol::ErrorFields& error);
    awaitable<bool> negotiate_tls(const ConnectSettings& settings, protocol::ErrorFields& error);
    awaitable<bool> answer_auth(std::string_view body, protocol::ErrorFields& error);
    // Reads one whole message into in_; returns its type and body (valid until the next read).
    awaitable<bool> read_message(char& type, std::string_view& body);
    awaitable<bool> write_all(const std::string& bytes);
    void fail(protocol::ErrorFields& error, std::string message) const;

    ServerStream stream_;
    Socket& socket_{stream_.socket()};
    std::shared_ptr<const registry::Backend> backend_;
    std::string password_;
    asio::generic::stream_protocol::endpoint endpoint_;
    ByteBuffer in_{4096};
    ByteBuffer relay_in_;
    size_t consumed_ = 0;
    uint32_t max_message_ = 64u << 20;
    std::map<std::string, std::string> params_;
    PreparedSet prepared_;
    std::map<std::string, std::string> applied_settings_;
    int32_t backend_pid_ = 0;
    int32_t backend_secret_ = 0;
    char tx_status_ = 'I';
    uint64_t id_;
    Clock::time_point created_;
    Clock::time_point last_used_;
    std::unique_ptr<struct ScramState> scram_;
};

}  // namespace storegate::proxy
