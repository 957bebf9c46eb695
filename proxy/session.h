// One client connection, from its first byte to its close, on one worker thread: startup,
// authentication, routing, a server connection from the db_key's pool, then the relay.
// Everything a session does to its client and its server happens on that thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "protocol/startup.h"
#include "proxy/byte_buffer.h"
#include "proxy/client_stream.h"
#include "proxy/message_scanner.h"
#include "proxy/router.h"
#include "proxy/services.h"
#include "proxy/session_probe.h"

namespace storegate::proxy {

class Session : public std::enable_shared_from_this<Session> {
  public:
    Session(Services& services, Worker& worker, Socket socket);
    ~Session();

    // Runs the session to its end; spawned detached on the worker's io_context.
    awaitable<void> run();

  private:
    enum class Opening { kStartup, kCancel, kClosed };

    awaitable<Opening> read_startup(protocol::StartupPacket& packet);
    awaitable<void> answer_cancel(const protocol::StartupPacket& packet);
    awaitable<bool> authenticate(std::string& greeting);
    awaitable<bool> attach(std::string& greeting);
    awaitable<bool> greet(std::string& greeting);
    awaitable<void> relay();
    awaitable<void> pump_client();
    awaitable<void> pump_server();
    awaitable<void> detach();
    // The one way a session ends with an error: ErrorResponse with a SQLSTATE, then close.
    awaitable<void> fail(protocol::ErrorFields error, std::string_view reason,
                         std::string prefix = {});
    std::vector<std::pair<std::string, std::string>> server_session_params() const;
    std::string log_fields() const;

    Services& services_;
    Worker& worker_;
    ClientStream client_;
    std::shared_ptr<const Runtime> runtime_;
    uint64_t id_;
    std::string peer_;
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
    SessionProbe probe_;  // registry entry and metrics; declared last: built from id_, peer_
};

}  // namespace storegate::proxy
