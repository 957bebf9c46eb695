// The HTTP admin API (README "Admin API"): GET /metrics, /healthz, /readyz without
// authentication, everything under /v1/ with `Authorization: Bearer <admin.token>`. Answers are
// JSON; an error is {"error": "..."} with 400 (bad request or JSON), 401 (token), 404 (unknown
// path or store), 405 (method), 409 (stale registry version), 422 (configuration rejected),
// 501 (needs the PostgreSQL registry) or 503 (registry unreachable).
// Runs on the admin thread; registry work goes through AdminControl to the blocking pool.
#pragma once

#include <boost/beast/http.hpp>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/net.h"

namespace storegate::proxy {

class Services;

namespace http = boost::beast::http;
using HttpRequest = http::request<http::string_body>;
using HttpResponse = http::response<http::string_body>;

// A request target split into decoded path segments and query parameters.
struct HttpTarget {
    std::vector<std::string> segments;  // "/v1/stores/x" -> {"v1", "stores", "x"}
    std::map<std::string, std::string> query;
    bool valid = true;  // false for a malformed percent-escape
};
HttpTarget parse_target(std::string_view target);
// The token of an "Authorization: Bearer <token>" header; nothing for any other scheme.
std::optional<std::string_view> bearer_token(std::string_view authorization);

class AdminApi {
  public:
    explicit AdminApi(Services& services) : services_(services) {}

    // `peer` is the client's address, for logs and the registry audit trail.
    awaitable<HttpResponse> handle(const HttpRequest& request, const std::string& peer);
    // Counts a response given without handle() (a request that could not be read).
    void count(int status);

  private:
    HttpResponse handle_open(const HttpRequest& request, const HttpTarget& target);
    awaitable<HttpResponse> handle_v1(const HttpRequest& request, const HttpTarget& target,
                                      const std::string& peer);
    awaitable<HttpResponse> handle_store(const HttpRequest& request, const HttpTarget& target,
                                         const std::string& actor);
    HttpResponse handle_reads(const HttpRequest& request, const HttpTarget& target);
    awaitable<HttpResponse> handle_actions(const HttpRequest& request, const HttpTarget& target,
                                           const std::string& actor);
    awaitable<HttpResponse> change_route(const HttpRequest& request, const std::string& store,
                                         const std::string& actor);
    HttpResponse set_log_level(const HttpRequest& request);

    Services& services_;
};

}  // namespace storegate::proxy
