#include "proxy/admin_api.h"

#include <boost/json.hpp>
#include <boost/url.hpp>

#include <charconv>

#include "common/log.h"
#include "proxy/admin_views.h"
#include "proxy/services.h"

namespace storegate::proxy {

namespace json = boost::json;

namespace {

constexpr size_t kDefaultStoreLimit = 1000;
constexpr size_t kMaxStoreLimit = 100000;

HttpResponse json_response(const HttpRequest& request, int status, const json::value& body) {
    HttpResponse response{static_cast<http::status>(status), request.version()};
    response.set(http::field::content_type, "application/json");
    response.set(http::field::cache_control, "no-store");
    response.body() = json::serialize(body) + "\n";
    response.keep_alive(request.keep_alive());
    response.prepare_payload();
    return response;
}

HttpResponse error_response(const HttpRequest& request, int status, std::string message) {
    return json_response(request, status, json::object{{"error", std::move(message)}});
}

HttpResponse reply_response(const HttpRequest& request, const AdminReply& reply) {
    return json_response(request, reply.status, reply.body);
}

HttpResponse method_not_allowed(const HttpRequest& request, std::string_view allowed) {
    auto response = error_response(request, 405, "method not allowed; use " + std::string(allowed));
    response.set(http::field::allow, allowed);
    return response;
}

size_t query_number(const HttpTarget& target, const std::string& name, size_t fallback,
                    size_t max) {
    auto it = target.query.find(name);
    if (it == target.query.end()) {
        return fallback;
    }
    size_t value = fallback;
    auto [end, ec] =
        std::from_chars(it->second.data(), it->second.data() + it->second.size(), value);
    if (ec != std::errc() || end != it->second.data() + it->second.size()) {
        return fallback;
    }
    return std::min(value, max);
}

}  // namespace

HttpTarget parse_target(std::string_view target) {
    HttpTarget out;
    auto parsed = boost::urls::parse_origin_form(target);
    if (!parsed) {
        out.valid = false;
        return out;
    }
    for (const std::string& segment : parsed->segments()) {
        if (!segment.empty()) {
            out.segments.push_back(segment);
        }
    }
    for (const auto& param : parsed->params()) {
        out.query[param.key] = param.value;
    }
    return out;
}

std::optional<std::string_view> bearer_token(std::string_view authorization) {
    constexpr std::string_view kScheme = "bearer ";
    if (authorization.size() <= kScheme.size()) {
        return std::nullopt;
    }
    for (size_t i = 0; i < kScheme.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) {
            return std::nullopt;
        }
    }
    std::string_view token = authorization.substr(kScheme.size());
    while (!token.empty() && token.front() == ' ') {
        token.remove_prefix(1);
    }
    while (!token.empty() && token.back() == ' ') {
        token.remove_suffix(1);
    }
    return token.empty() ? std::nullopt : std::optional(token);
}

awaitable<HttpResponse> AdminApi::handle(const HttpRequest& request, const std::string& peer) {
    HttpTarget target = parse_target(request.target());
    HttpResponse response;
    if (!target.valid) {
        response = error_response(request, 400, "malformed request target");
    } else if (!target.segments.empty() && target.segments[0] == "v1") {
        response = co_await handle_v1(request, target, peer);
    } else {
        response = handle_open(request, target);
    }
    services_.metrics.admin_request(static_cast<int>(response.result_int()));
    co_return response;
}

void AdminApi::count(int status) {
    services_.metrics.admin_request(status);
}

HttpResponse AdminApi::handle_open(const HttpRequest& request, const HttpTarget& target) {
    std::string path = target.segments.size() == 1 ? target.segments[0] : "";
    if (path != "metrics" && path != "healthz" && path != "readyz") {
        return error_response(request, 404, "no such endpoint");
    }
    if (request.method() != http::verb::get) {
        return method_not_allowed(request, "GET");
    }
    if (path == "healthz") {
        return json_response(request, 200, json::object{{"status", "ok"}});
    }
    if (path == "readyz") {
        bool ready = services_.admin.ready();
        return json_response(request, ready ? 200 : 503, json::object{{"ready", ready}});
    }
    HttpResponse response{http::status::ok, request.version()};
    response.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    response.body() = services_.metrics.scrape();
    response.keep_alive(request.keep_alive());
    response.prepare_payload();
    return response;
}

awaitable<HttpResponse> AdminApi::handle_v1(const HttpRequest& request, const HttpTarget& target,
                                            const std::string& peer) {
    auto token = bearer_token(request[http::field::authorization]);
    if (!token || !services_.admin.token_matches(*token)) {
        services_.metrics.admin_unauthorized();
        if (log::allow("admin_unauthorized")) {
            log::warn("admin request refused client={} reason={}", peer,
                      token ? "wrong_token" : "missing_token");
        }
        auto response = error_response(request, 401, "missing or wrong bearer token");
        response.set(http::field::www_authenticate, "Bearer realm=\"storegate\"");
        co_return response;
    }
    const auto& seg = target.segments;
    std::string actor = "http " + peer;
    if (seg.size() >= 3 && seg[1] == "stores") {
        co_return co_await handle_store(request, target, actor);
    }
    if (seg.size() == 2 && (seg[1] == "reload" || seg[1] == "instances" || seg[1] == "loglevel")) {
        co_return co_await handle_actions(request, target, actor);
    }
    co_return handle_reads(request, target);
}

HttpResponse AdminApi::handle_reads(const HttpRequest& request, const HttpTarget& target) {
    const auto& seg = target.segments;
    std::string name = seg.size() == 2 ? seg[1] : "";
    View (*build)(Services&) = name == "pools"     ? pools_view
                               : name == "clients" ? clients_view
                               : name == "servers" ? servers_view
                               : name == "stats"   ? stats_view
                                                   : nullptr;
    if (build == nullptr && name != "stores") {
        return error_response(request, 404, "no such endpoint");
    }
    if (request.method() != http::verb::get) {
        return method_not_allowed(request, "GET");
    }
    if (build != nullptr) {
        return json_response(request, 200, json::object{{name, build(services_).rows}});
    }
    size_t offset = query_number(target, "offset", 0, SIZE_MAX);
    size_t limit = query_number(target, "limit", kDefaultStoreLimit, kMaxStoreLimit);
    return json_response(request, 200,
                         json::object{{"registry_version", services_.routing.version()},
                                      {"total", services_.routing.store_count()},
                                      {"offset", offset},
                                      {"stores", stores_view(services_, offset, limit).rows}});
}

awaitable<HttpResponse> AdminApi::handle_store(const HttpRequest& request, const HttpTarget& target,
                                               const std::string& actor) {
    const auto& seg = target.segments;
    const std::string& store = seg[2];
    if (seg.size() == 3) {
        if (request.method() != http::verb::get) {
            co_return method_not_allowed(request, "GET");
        }
        auto detail = store_detail(services_, store);
        if (!detail) {
            co_return error_response(request, 404, "store \"" + store + "\" does not exist");
        }
        co_return json_response(request, 200, *detail);
    }
    std::string action = seg.size() == 4 ? seg[3] : "";
    if (action == "pause" || action == "resume") {
        if (request.method() != http::verb::post) {
            co_return method_not_allowed(request, "POST");
        }
        AdminReply reply = co_await services_.admin.set_paused(store, action == "pause", actor);
        co_return reply_response(request, reply);
    }
    if (action == "route") {
        if (request.method() != http::verb::put) {
            co_return method_not_allowed(request, "PUT");
        }
        co_return co_await change_route(request, store, actor);
    }
    co_return error_response(request, 404, "no such endpoint");
}

awaitable<HttpResponse> AdminApi::change_route(const HttpRequest& request, const std::string& store,
                                               const std::string& actor) {
    boost::system::error_code ec;
    json::value body = json::parse(request.body(), ec);
    const json::object* object = ec ? nullptr : body.if_object();
    const json::value* db_key = object ? object->if_contains("db_key") : nullptr;
    const json::value* version = object ? object->if_contains("version") : nullptr;
    bool valid = db_key && db_key->is_string() && !db_key->as_string().empty() && version &&
                 (version->is_uint64() || (version->is_int64() && version->as_int64() >= 0));
    if (!valid) {
        co_return error_response(request, 400,
                                 "expected a JSON object {\"db_key\": \"<db_key>\", \"version\": "
                                 "<registry version the route was read at>}");
    }
    std::string target_key(db_key->as_string());
    uint64_t expected =
        version->is_uint64() ? version->as_uint64() : static_cast<uint64_t>(version->as_int64());
    AdminReply reply = co_await services_.admin.set_route(store, target_key, expected, actor);
    co_return reply_response(request, reply);
}

awaitable<HttpResponse> AdminApi::handle_actions(const HttpRequest& request,
                                                 const HttpTarget& target,
                                                 const std::string& actor) {
    const std::string& name = target.segments[1];
    if (name == "instances") {
        if (request.method() != http::verb::get) {
            co_return method_not_allowed(request, "GET");
        }
        AdminReply reply = co_await services_.admin.instances();
        co_return reply_response(request, reply);
    }
    if (request.method() != http::verb::post) {
        co_return method_not_allowed(request, "POST");
    }
    if (name == "loglevel") {
        co_return set_log_level(request);
    }
    log::info("reload requested actor=\"{}\"", actor);
    AdminReply reply = co_await services_.admin.reload();
    co_return reply_response(request, reply);
}

HttpResponse AdminApi::set_log_level(const HttpRequest& request) {
    boost::system::error_code ec;
    json::value body = json::parse(request.body(), ec);
    const json::object* object = ec ? nullptr : body.if_object();
    const json::value* level = object ? object->if_contains("level") : nullptr;
    if (level == nullptr || !level->is_string()) {
        return error_response(request, 400, "expected a JSON object {\"level\": \"<level>\"}");
    }
    return reply_response(request, services_.admin.set_log_level(level->as_string()));
}

}  // namespace storegate::proxy
