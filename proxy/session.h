// One client connection, from its first byte to its close, on one worker thread: startup,
// authentication, routing, a server connection from the db_key's pool, then the relay.
// Everything a session does to its client and its server happens on that thread.
#pragma once

#include <array>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "protocol/startup.h"
#include "proxy/byte_buffer.h"
#include "proxy/client_stream.h"
#include "proxy/local_statements.h"
#include "proxy/message_scanner.h"
#include "proxy/outbound.h"
#include "proxy/prepared_statements.h"
#include "proxy/response_queue.h"
#include "proxy/router.h"
#include "proxy/services.h"
#include "proxy/session_probe.h"
#include "proxy/sql_inspect.h"
#include "proxy/store_control.h"

namespace storegate::proxy {

class Session : public std::enable_shared_from_this<Session> {
  public:
    static inline const std::string kNoPrefix;

    Session(Services& services, Worker& worker, Socket socket);
    ~Session();

    // Runs the session to its end; spawned detached on the worker's io_context.
    awaitable<void> run();

  private:
    enum class Opening { kStartup, kCancel, kClosed };

    awaitable<Opening> read_startup(protocol::StartupPacket& packet);
    awaitable<void> answer_cancel(const protocol::StartupPacket& packet);
    awaitable<bool> negotiate_version(const protocol::StartupPacket& packet);
    awaitable<bool> authenticate(std::string& greeting);
    awaitable<bool> open();
    awaitable<bool> attach(std::string& greeting);
    awaitable<bool> greet(std::string& greeting);
    awaitable<void> relay();
    awaitable<void> pump_client();
    awaitable<void> pump_server();
    awaitable<void> detach();
    awaitable<void> return_server();
    void use_transaction_scanners();
    // The one way a session ends with an error: ErrorResponse with a SQLSTATE, then close.
    // Arguments are references to named objects of the caller: GCC 12 mishandles temporaries
    // and by-value class parameters in co_await expressions.
    awaitable<void> fail(const protocol::ErrorFields& error, std::string_view reason,
                         const std::string& prefix = kNoPrefix);
    std::vector<std::pair<std::string, std::string>> server_session_params() const;

    // Transaction pooling (session_txn.cc): the server connection is held from a client's
    // first message of a transaction to the ReadyForQuery that ends it.
    awaitable<void> run_transaction_mode();
    asio::mutable_buffer client_read_buffer();
    void client_read_done(asio::mutable_buffer into, size_t n);
    awaitable<bool> scan_client_chunk(size_t& pos, bool& terminate);
    awaitable<bool> on_client_message(const MessageScanner::Item& item, size_t pos);
    awaitable<bool> on_query(std::string_view body, size_t pos, size_t size);
    awaitable<bool> on_parse(std::string_view body, size_t pos, size_t size);
    awaitable<bool> on_statement_ref(char type, std::string_view body, size_t pos, size_t size);
    awaitable<bool> on_marked(char type, size_t pos, size_t size);
    awaitable<bool> on_execute(std::string_view body, size_t pos, size_t size);
    bool answer_local_statement(char type, char kind, std::string_view name);
    bool answered_locally(const sql::Inspection& seen) const;
    void deallocate_locally(const sql::Inspection& seen);
    awaitable<bool> settle_pipeline();
    bool set_storegate(const sql::Inspection& seen, bool in_extended_batch);
    std::string storegate_value(const sql::Inspection& seen) const;
    awaitable<bool> ensure_server();
    awaitable<bool> pass_store_gate(bool& moved);
    awaitable<bool> admit_pinned();
    awaitable<void> pump_server_txn();
    awaitable<void> stop_server_pump();
    void start_server_pump();
    awaitable<void> report_server_lost();
    awaitable<error_code> write_client(Outbound& out, const uint8_t* input);
    awaitable<bool> flush_chunk();
    bool release_due() const;
    void release_server();
    void return_relay_buffer();
    void ensure_prepared(const Statement& statement, ResponseQueue::Action action);
    void answer_locally(std::string bytes, bool in_extended_batch);
    void local_error(std::string_view code, std::string message, bool in_extended_batch);
    bool switch_route(const sql::Inspection& set, std::string& error_code_out,
                      std::string& error_message);
    void apply_change(const ResponseQueue::Change& change, char status);
    void note_bound_change(std::string_view statement);
    void forget_statement(const std::string& internal_name, bool client_parse);
    void retarget_settings();
    std::string settings_sync_sql();
    void init_settings();
    void on_server_whole(const MessageScanner::Item& item, std::string& before, bool& forward,
                         std::string& after);
    std::string log_fields() const;

    Services& services_;
    Worker& worker_;
    ClientStream client_;
    std::shared_ptr<const Runtime> runtime_;
    uint64_t id_;
    std::string peer_;
    std::unique_ptr<ClientLimits::Slot> slot_;  // this connection, counted in the limits
    RouteRequest request_;
    RouteDecision route_;
    std::shared_ptr<Pool> pool_;
    std::unique_ptr<ServerConn> server_;
    ByteBuffer client_in_{8192};
    ByteBuffer server_in_{16384};
    MessageScanner client_scan_;
    MessageScanner server_scan_;
    std::shared_ptr<CancelTarget> cancel_target_;
    CancelRegistry::Key cancel_key_;
    int pending_ = 0;  // Query/Sync/FunctionCall sent whose ReadyForQuery has not come back
    bool client_done_ = false;
    bool server_lost_ = false;
    bool client_garbled_ = false;
    // Transaction pooling state.
    bool transaction_mode_ = false;
    ResponseQueue queue_;
    Outbound to_server_;
    Outbound to_client_;  // built by the server pump
    std::array<uint8_t, 256> idle_read_{};
    Outbound local_reply_;        // answers the client pump gives itself
    uint64_t write_tickets_ = 0;  // client writes run in the order they were asked for
    uint64_t write_serving_ = 0;
    std::map<std::string, std::string> settings_;  // name -> SQL that applies it
    std::map<std::string, std::string> startup_settings_;
    // Limitation: not bounded: a client that prepares ever new statements keeps each one's text
    // here until it disconnects - matters only for clients that never deallocate.
    std::unordered_map<std::string, std::shared_ptr<const Statement>> statements_;
    sql::Pin pinned_ = sql::Pin::kNone;
    char client_status_ = 'I';
    bool unsynced_ = false;      // extended-protocol messages sent since the last Sync
    bool skip_to_sync_ = false;  // a locally raised error: drop messages up to Sync
    // SET/RESET through the extended protocol: the change each statement makes, and the one
    // the current batch executes, remembered once its Sync comes back clean.
    std::optional<ResponseQueue::Change> unnamed_change_;
    std::unordered_map<std::string, ResponseQueue::Change> named_changes_;
    std::optional<ResponseQueue::Change> batch_change_;
    LocalStatements local_;  // SET/SHOW storegate.* prepared through the extended protocol
    bool server_pump_running_ = false;
    bool server_buffer_lent_ = false;  // server_in_ holds the server connection's relay buffer
    bool route_changed_ = false;       // the store changed: the next transaction needs a new server
    // Live retargeting (store_control.h): the store counted in flight while a server is held,
    // the table generation route_ was last read at, and a drained session-mode client.
    StoreActivity activity_{services_.store_control};
    uint64_t route_generation_ = 0;
    bool store_moved_ = false;
    protocol::ErrorFields gate_error_;  // why admit_store refused (a member: GCC 12, above)
    bool writing_server_ = false;
    bool settling_ = false;  // settle_pipeline() waits for the server pump
    // Never expires: its waiters (the end of the server pump, a turn to write to the client)
    // re-check their condition whenever cancel() wakes them all.
    asio::steady_timer wake_{client_.executor(), asio::steady_timer::time_point::max()};
    SessionProbe probe_;  // registry entry and metrics; declared last: built from id_, peer_
};

}  // namespace storegate::proxy
