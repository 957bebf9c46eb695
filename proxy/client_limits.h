// Limits that protect storegate from abusive clients: how many connections are open in all
// and per client address (server.max_client_conn, server.max_client_conn_per_addr), and a
// brake on repeated authentication failures from one address. Thread-safe; shared by all
// workers and kept across reloads (the limits themselves are read from the current config).
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "config/config.h"
#include "proxy/net.h"

namespace storegate::proxy {

// The client's IP address without its port ("unix" for Unix-domain peers).
std::string client_address(const Socket& socket);

class ClientLimits {
  public:
    // Held by a session for its whole life; releases its slot when destroyed.
    class Slot {
      public:
        Slot(ClientLimits* owner, std::string address, bool admitted)
            : owner_(owner), address_(std::move(address)), admitted_(admitted) {}
        ~Slot();
        Slot(const Slot&) = delete;
        Slot& operator=(const Slot&) = delete;
        bool admitted() const { return admitted_; }

      private:
        ClientLimits* owner_;
        std::string address_;
        bool admitted_;
    };

    // Counts a new connection. The slot says whether it fits within the limits; a refused one
    // is not counted.
    std::unique_ptr<Slot> admit(const std::string& address, const config::ServerConfig& server);

    // Limitation: failures are counted per IP address, fixed at 5 in 10 s - matters behind NAT
    // or a load balancer, where one client's failures slow every client sharing the address.
    // Failed authentications: after kMaxFailures within kWindow from one address, further
    // attempts are answered late (kPenalty) and failed without looking at the password.
    static constexpr int kMaxFailures = 5;
    static constexpr std::chrono::seconds kWindow{10};
    static constexpr std::chrono::seconds kPenalty{1};
    bool throttled(const std::string& address);
    void auth_failed(const std::string& address);

    int open() const;

  private:
    void release(const std::string& address);
    void prune_failures(Clock::time_point now);

    mutable std::mutex mutex_;
    int open_ = 0;
    std::unordered_map<std::string, int> per_address_;
    std::unordered_map<std::string, std::deque<Clock::time_point>> failures_;
};

}  // namespace storegate::proxy
