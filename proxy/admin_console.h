// The SQL admin console (README "Admin console"): a client that logs in to database
// "storegate" as one of admin.admin_users gets, after normal authentication, storegate itself
// instead of a backend. It speaks the simple query protocol (protocol docs, "Simple Query"):
// SHOW POOLS/CLIENTS/SERVERS/STATS/STORES/INSTANCES/HELP, SHOW ROUTE <store>, PAUSE <store>,
// RESUME <store>, RELOAD, SET log_level = <level>. Unknown commands get an ERROR (42601) and the
// console stays usable; the extended protocol gets an ERROR (0A000) until its Sync.
// Other users asking for database "storegate" are routed like any other client: the name has no
// meaning to storegate for them.
// Runs on the session's thread; registry work goes through AdminControl to the blocking pool.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "proxy/byte_buffer.h"
#include "proxy/client_stream.h"
#include "proxy/router.h"
#include "proxy/session_probe.h"

namespace storegate::proxy {

class Services;

inline constexpr std::string_view kConsoleDatabase = "storegate";

bool wants_console(const RouteRequest& request, const config::Config& config);

struct ConsoleCommand {
    enum class Kind {
        kEmpty,
        kShowPools,
        kShowClients,
        kShowServers,
        kShowStats,
        kShowStores,
        kShowRoute,
        kShowInstances,
        kShowHelp,
        kPause,
        kResume,
        kReload,
        kSetLogLevel,
        kInvalid,
    };
    Kind kind = Kind::kEmpty;
    std::string argument;  // store key or log level, unquoted
    std::string text;      // the statement as written, trimmed (for errors and logs)
};

// Splits a Query message's text into statements (';' outside quotes) and parses each.
std::vector<ConsoleCommand> parse_console(std::string_view sql);

// Serves the console until the client leaves. `greeting` holds AuthenticationOk, not yet sent.
awaitable<void> run_console(Services& services, ClientStream& client, ByteBuffer& in,
                            SessionProbe& probe, std::string& greeting);

}  // namespace storegate::proxy
