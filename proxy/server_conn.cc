#include "proxy/server_conn.h"

#include <sys/socket.h>

#include <atomic>

#include "common/log.h"
#include "protocol/backend.h"
#include "protocol/frame.h"
#include "protocol/frontend.h"
#include "protocol/md5_auth.h"
#include "protocol/scram.h"
#include "proxy/client_stream.h"

namespace storegate::proxy {

namespace pb = protocol::backend;

struct ScramState {
    protocol::scram::ClientExchange exchange;
};

static std::atomic<uint64_t> next_server_id{1};

ServerConn::ServerConn(asio::any_io_executor ex, std::shared_ptr<const registry::Backend> backend,
                       std::string password)
    : stream_(ex),
      backend_(std::move(backend)),
      password_(std::move(password)),
      id_(next_server_id.fetch_add(1, std::memory_order_relaxed)),
      created_(Clock::now()),
      last_used_(created_) {}

ServerConn::~ServerConn() {
    close();
}

void ServerConn::close() {
    error_code ignored;
    if (socket_.is_open()) {
        socket_.shutdown(Socket::shutdown_both, ignored);
        socket_.close(ignored);
    }
}

void ServerConn::fail(protocol::ErrorFields& error, std::string message) const {
    error.severity = "FATAL";
    error.code = std::string(protocol::sqlstate::kConnectionFailure);
    error.message = std::move(message);
}

awaitable<bool> ServerConn::connect(const ConnectSettings& settings, protocol::ErrorFields& error) {
    max_message_ = settings.max_message_size;
    Watchdog watchdog(socket_.get_executor(), socket_);
    watchdog.arm(settings.timeout);
    bool ok = co_await open_socket(error);
    if (ok) {
        ok = co_await negotiate_tls(settings, error);
    }
    if (ok) {
        ok = co_await login(error);
    }
    watchdog.disarm();
    if (!ok && watchdog.fired()) {
        fail(error, "could not connect to server for db_key \"" + backend_->db_key +
                        "\": timed out after " + std::to_string(settings.timeout.count()) + " ms");
    }
    co_return ok;
}

awaitable<bool> ServerConn::open_socket(protocol::ErrorFields& error) {
    const auto& b = *backend_;
    error_code ec;
    if (!b.host.empty() && b.host.front() == '/') {
        std::string path = b.host + "/.s.PGSQL." + std::to_string(b.port);
        endpoint_ = asio::local::stream_protocol::endpoint(path);
        std::tie(ec) = co_await socket_.async_connect(endpoint_, nothrow);
    } else {
        asio::ip::tcp::resolver resolver(socket_.get_executor());
        auto [rec, results] =
            co_await resolver.async_resolve(b.host, std::to_string(b.port), nothrow);
        ec = rec ? rec : asio::error::host_not_found;
        for (const auto& entry : results) {
            auto ep = entry.endpoint();
            endpoint_ = asio::generic::stream_protocol::endpoint(ep.data(), ep.size());
            error_code close_ec;
            socket_.close(close_ec);
            std::tie(ec) = co_await socket_.async_connect(endpoint_, nothrow);
            if (!ec) {
                break;
            }
        }
    }
    if (ec) {
        fail(error, "could not connect to server for db_key \"" + b.db_key + "\": " + ec.message());
        co_return false;
    }
    set_nodelay(socket_);
    set_keepalive(socket_);
    co_return true;
}

awaitable<bool> ServerConn::write_all(const std::string& bytes) {
    auto [ec, n] = co_await stream_.write(asio::buffer(bytes));
    co_return !ec;
}

awaitable<bool> ServerConn::read_message(char& type, std::string_view& body) {
    protocol::Frame frame;
    bool read = co_await read_frame(stream_, in_, consumed_, max_message_, frame);
    if (read) {
        type = frame.type;
        body = frame.body;
    }
    co_return read;
}

awaitable<bool> ServerConn::login(protocol::ErrorFields& error) {
    std::string out;
    protocol::append_startup(out,
                             {{"user", backend_->username}, {"database", backend_->database_name}});
    if (!co_await write_all(out)) {
        fail(error, "could not send startup to server for db_key \"" + backend_->db_key + "\"");
        co_return false;
    }
    for (;;) {
        char type = 0;
        std::string_view body;
        if (!co_await read_message(type, body)) {
            fail(error, "server for db_key \"" + backend_->db_key +
                            "\" closed the connection during login");
            co_return false;
        }
        switch (type) {
            case pb::kAuthentication:
                if (!co_await answer_auth(body, error)) {
                    co_return false;
                }
                break;
            case pb::kErrorResponse: {
                protocol::ErrorFields server_error;
                protocol::parse_error_fields(body, server_error);
                fail(error, "server login failed for db_key \"" + backend_->db_key +
                                "\": " + server_error.message);
                error.detail = "server SQLSTATE " + server_error.code;
                co_return false;
            }
            case pb::kParameterStatus: {
                std::string_view name;
                std::string_view value;
                if (protocol::parse_parameter_status(body, name, value)) {
                    set_param(name, value);
                }
                break;
            }
            case pb::kBackendKeyData:
                protocol::parse_backend_key_data(body, backend_pid_, backend_secret_);
                break;
            case pb::kReadyForQuery:
                protocol::parse_ready_for_query(body, tx_status_);
                scram_.reset();
                password_.clear();
                co_return true;
            default:
                break;  // NoticeResponse, NegotiateProtocolVersion: nothing to do
        }
    }
}

awaitable<bool> ServerConn::answer_auth(std::string_view body, protocol::ErrorFields& error) {
    protocol::AuthRequest req;
    if (!protocol::parse_auth_request(body, req)) {
        fail(error, "server for db_key \"" + backend_->db_key + "\" sent a malformed request");
        co_return false;
    }
    std::string out;
    const std::string& user = backend_->username;
    switch (req.code) {
        case protocol::kAuthOk:
            co_return true;
        case protocol::kAuthCleartext:
            protocol::append_password(out, password_);
            break;
        case protocol::kAuthMd5:
            protocol::append_password(out, protocol::md5::response(user, password_, req.md5_salt));
            break;
        case protocol::kAuthSasl: {
            bool offered = false;
            for (const auto& m : req.mechanisms) {
                offered = offered || m == protocol::scram::kMechanism;
            }
            if (!offered) {
                fail(error, "server for db_key \"" + backend_->db_key +
                                "\" offers no supported SASL mechanism");
                co_return false;
            }
            scram_ = std::make_unique<ScramState>(ScramState{
                protocol::scram::ClientExchange(password_, protocol::scram::random_nonce())});
            protocol::append_sasl_initial_response(out, protocol::scram::kMechanism,
                                                   scram_->exchange.client_first());
            break;
        }
        case protocol::kAuthSaslContinue: {
            std::string client_final;
            if (!scram_ || scram_->exchange.server_first(req.data, client_final) !=
                               protocol::scram::Status::kOk) {
                fail(error,
                     "SCRAM exchange with server for db_key \"" + backend_->db_key + "\" failed");
                co_return false;
            }
            protocol::append_sasl_response(out, client_final);
            break;
        }
        case protocol::kAuthSaslFinal:
            if (!scram_ ||
                scram_->exchange.server_final(req.data) != protocol::scram::Status::kOk) {
                fail(error, "server for db_key \"" + backend_->db_key +
                                "\" could not prove it knows the password");
                co_return false;
            }
            co_return true;
        default:
            fail(error, "server for db_key \"" + backend_->db_key +
                            "\" asks for an unsupported authentication method (" +
                            std::to_string(req.code) + ")");
            co_return false;
    }
    if (!co_await write_all(out)) {
        fail(error, "server for db_key \"" + backend_->db_key + "\" closed during login");
        co_return false;
    }
    co_return true;
}

awaitable<QueryResult> ServerConn::simple_query(std::string_view sql) {
    QueryResult result;
    std::string out;
    protocol::append_query(out, sql);
    if (!co_await write_all(out)) {
        co_return result;
    }
    for (;;) {
        char type = 0;
        std::string_view body;
        if (!co_await read_message(type, body)) {
            co_return result;
        }
        if (type == pb::kErrorResponse) {
            result.failed = true;
            protocol::parse_error_fields(body, result.error);
        } else if (type == pb::kParameterStatus) {
            std::string_view name;
            std::string_view value;
            if (protocol::parse_parameter_status(body, name, value)) {
                set_param(name, value);
            }
        } else if (type == pb::kReadyForQuery) {
            protocol::parse_ready_for_query(body, tx_status_);
            in_.consume(consumed_);
            consumed_ = 0;
            in_.shrink_if_empty();
            result.ok = true;
            co_return result;
        }
    }
}

void ServerConn::set_param(std::string_view name, std::string_view value) {
    auto it = params_.find(std::string(name));
    if (it == params_.end()) {
        params_.emplace(std::string(name), std::string(value));
    } else if (it->second != value) {
        it->second.assign(value);
    }
}

void ServerConn::rebind(asio::any_io_executor ex) {
    stream_.rebind(std::move(ex), endpoint_.protocol());
}

bool ServerConn::looks_alive() {
    if (!socket_.is_open() || in_.size() > consumed_ || stream_.tls_pending()) {
        return false;
    }
    char probe = 0;
    ssize_t n = ::recv(socket_.native_handle(), &probe, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

}  // namespace storegate::proxy
