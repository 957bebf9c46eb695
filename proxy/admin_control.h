// The actions of the admin surface, shared by the HTTP API and the SQL console: pause, resume
// and route changes in the registry, the instance list, configuration reload and the log
// level; plus what the HTTP side needs to know about the process (readiness, the admin token).
// Registry work runs on Services::blocking; the awaiting coroutine resumes on its own executor.
// Thread-safe.
#pragma once

#include <boost/json.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "config/config.h"
#include "proxy/net.h"

namespace storegate::proxy {

class Services;

// An outcome in HTTP terms (the console maps it to SQLSTATEs): `body` is the JSON answer, with
// an "error" member when status is not 200.
struct AdminReply {
    int status = 200;
    boost::json::object body;
    static AdminReply error(int status, std::string message);
};

class AdminControl {
  public:
    explicit AdminControl(Services& services) : services_(services) {}

    // /readyz: the listeners are up (set_ready), the registry snapshot is loaded, and the
    // process is not shutting down.
    void set_ready(bool ready) { ready_.store(ready); }
    bool ready() const;

    // How to reload the configuration: `reload` runs on `executor` (where SIGHUP is handled,
    // so reloads never race) and returns whether the new configuration was applied.
    void set_reload(asio::any_io_executor executor, std::function<bool()> reload);
    // Takes the settings of a (re)loaded configuration: the token, the store series limit.
    void apply(const config::Config& config);
    // The registry is loaded and the listeners are up: ready, with registry metrics wired.
    void started();
    // A reload's outcome (SIGHUP or API): applies the new settings when there are any.
    void reloaded(const config::Config* applied);
    // Constant-time comparison with the configured token; false when no token is configured.
    bool token_matches(std::string_view presented) const;

    // Arguments are references to the caller's named objects (see session.h on GCC 12).
    // Limitation: pause and resume return once the registry row is written, without waiting for
    // the other instances to confirm or quiesce - matters for scripts that act on a store right
    // after pausing it; `storegate store pause` waits for the fleet.
    awaitable<AdminReply> set_paused(const std::string& store_key, bool paused,
                                     const std::string& actor);
    awaitable<AdminReply> set_route(const std::string& store_key, const std::string& db_key,
                                    uint64_t version, const std::string& actor);
    awaitable<AdminReply> instances();
    awaitable<AdminReply> reload();
    AdminReply set_log_level(std::string_view level);

  private:
    std::string registry_dsn() const;

    Services& services_;
    std::atomic<bool> ready_{false};
    mutable std::mutex mutex_;
    std::string token_;
    asio::any_io_executor reload_executor_;
    std::function<bool()> reload_;
};

}  // namespace storegate::proxy
