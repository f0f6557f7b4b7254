#include "server/policies.hpp"

#include <cstring>

#include "common/strings.hpp"

namespace contex::server {
namespace {

constexpr std::string_view kStrictCsp =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; frame-ancestors 'none'";
constexpr std::string_view kRelaxedCsp =
    "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval' https://unpkg.com; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'";
constexpr std::string_view kExposeHeaders =
    "X-Request-ID, X-API-Version, X-API-Deprecation, X-RateLimit-Limit, X-RateLimit-Remaining, "
    "X-RateLimit-Reset, RateLimit, RateLimit-Policy, Retry-After";

bool PathHasPrefix(std::string_view path, std::string_view prefix) {
    return StartsWith(path, prefix) &&
           (path.size() == prefix.size() || path[prefix.size()] == '/');
}

}  // namespace

void AddVersionHeaders(std::string_view path, Response& response) {
    if (PathHasPrefix(path, "/api/v1")) {
        response.headers.Set("X-API-Version", "v1");
    } else if (StartsWith(path, "/api/") || path == "/api") {
        response.headers.Set("X-API-Version", "legacy");
        response.headers.Set("X-API-Deprecation",
                             "This API version is deprecated. Use /api/v1 instead.");
    }
}

void AddSecurityHeaders(std::string_view path, bool hsts, Response& response) {
    auto& h = response.headers;
    h.Set("X-Content-Type-Options", "nosniff");
    h.Set("X-Frame-Options", "DENY");
    h.Set("X-XSS-Protection", "1; mode=block");
    h.Set("Referrer-Policy", "strict-origin-when-cross-origin");
    h.Set("Permissions-Policy", "geolocation=(), microphone=(), camera=(), payment=(), usb=()");
    bool relaxed = PathHasPrefix(path, "/sandbox") || PathHasPrefix(path, "/static") ||
                   PathHasPrefix(path, "/docs");
    h.Set("Content-Security-Policy", std::string(relaxed ? kRelaxedCsp : kStrictCsp));
    if (hsts) h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains");
}

CorsPolicy::CorsPolicy(CorsConfig config) : config_(std::move(config)) {
    for (const auto& o : config_.origins) {
        if (o == "*") wildcard_ = true;
    }
}

bool CorsPolicy::Allowed(std::string_view origin) const {
    if (wildcard_) return true;
    for (const auto& o : config_.origins) {
        if (o == origin) return true;
    }
    return false;
}

void CorsPolicy::AddOriginHeaders(std::string_view origin, Response& response) const {
    if (wildcard_) {
        response.headers.Set("Access-Control-Allow-Origin", "*");
    } else {
        response.headers.Set("Access-Control-Allow-Origin", std::string(origin));
        response.headers.Add("Vary", "Origin");
        if (config_.allow_credentials) {
            response.headers.Set("Access-Control-Allow-Credentials", "true");
        }
    }
}

std::optional<Response> CorsPolicy::HandlePreflight(const Request& request) const {
    if (request.method != "OPTIONS") return std::nullopt;
    auto origin = request.Header("Origin");
    if (!origin || !request.Header("Access-Control-Request-Method")) return std::nullopt;
    if (!Allowed(*origin)) return Response::Detail(400, "Disallowed CORS origin");
    Response r = Response::Text(200, "OK", "text/plain; charset=utf-8");
    r.headers.Set("Access-Control-Allow-Methods", "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT");
    if (auto req_headers = request.Header("Access-Control-Request-Headers")) {
        r.headers.Set("Access-Control-Allow-Headers", std::string(*req_headers));
    }
    r.headers.Set("Access-Control-Max-Age", "600");
    AddOriginHeaders(*origin, r);
    return r;
}

void CorsPolicy::Decorate(const Request& request, Response& response) const {
    auto origin = request.Header("Origin");
    if (!origin || !Allowed(*origin)) return;
    if (response.headers.Has("Access-Control-Allow-Origin")) return;  // preflight did it
    AddOriginHeaders(*origin, response);
    response.headers.Set("Access-Control-Expose-Headers", std::string(kExposeHeaders));
}

}  // namespace contex::server
