// Response policies that apply to every request, whatever the route: version headers
// (api.md §1.1), security headers (§1.7) and CORS (§1.6).
// Pure functions and immutable objects; thread-safe.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/http.hpp"

namespace contex::server {

// X-API-Version / X-API-Deprecation by path prefix.
void AddVersionHeaders(std::string_view path, Response& response);

// The fixed security header set; relaxed CSP under /sandbox, /static, /docs; HSTS when
// `hsts` is true (the caller decides: ENABLE_HSTS and an https request).
void AddSecurityHeaders(std::string_view path, bool hsts, Response& response);

struct CorsConfig {
    std::vector<std::string> origins = {"*"};  // trimmed entries; "*" = any
    bool allow_credentials = true;             // ignored with "*"
};

class CorsPolicy {
public:
    explicit CorsPolicy(CorsConfig config);
    bool wildcard() const { return wildcard_; }
    // A preflight (OPTIONS + Origin + Access-Control-Request-Method) gets its full
    // answer here: 200 "OK" or 400 {"detail":"Disallowed CORS origin"}.
    std::optional<Response> HandlePreflight(const Request& request) const;
    // Adds the CORS headers for an allowed Origin on a normal response.
    void Decorate(const Request& request, Response& response) const;

private:
    bool Allowed(std::string_view origin) const;
    void AddOriginHeaders(std::string_view origin, Response& response) const;

    CorsConfig config_;
    bool wildcard_ = false;
};

}  // namespace contex::server
