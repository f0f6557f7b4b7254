// Route table: method + path pattern -> handler. Pure (no I/O); built once at start-up,
// then read concurrently without locks.
//
// Patterns are literal segments and `{param}` segments. The raw path is split on '/'
// first, then each segment is percent-decoded, so "%2F" inside an id addresses an id
// containing '/'. A trailing slash is ignored. Among routes matching method and path,
// literal segments win over parameters (api.md §1.5).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "server/http.hpp"

namespace contex::server {

using Handler = std::function<Response(Request&)>;

// Where a handler runs.
enum class Dispatch {
    kInline,  // on the I/O thread: only for handlers that never block (health, root)
    kPool,    // on the bounded handler pool (anything touching storage, embedding, ...)
};

struct RouteOptions {
    Dispatch dispatch = Dispatch::kPool;
    bool legacy = true;  // AddApi: also serve under /api
    bool quiet = false;  // access log at DEBUG (health, metrics)
    bool count_in_metrics = true;  // false for metric scrapes
};

struct Route {
    std::string method;
    std::string pattern;  // full template, e.g. "/api/v1/agents/{agent_id}"
    Handler handler;
    RouteOptions options;
    std::size_t id = 0;  // dense index, for per-route caches
    std::vector<std::string> segments;
};

class Router {
public:
    static constexpr std::string_view kApiPrefix = "/api/v1";
    static constexpr std::string_view kLegacyPrefix = "/api";

    // Registers `pattern` (starting with '/' or empty for the prefix root) under /api/v1,
    // and under /api when options.legacy.
    void AddApi(std::string method, std::string_view pattern, Handler handler,
                RouteOptions options = {});
    // Registers a full path outside the API prefixes ("/health", "/").
    void Add(std::string method, std::string pattern, Handler handler, RouteOptions options = {});

    enum class Outcome { kFound, kNotFound, kMethodNotAllowed };
    struct Match {
        Outcome outcome = Outcome::kNotFound;
        const Route* route = nullptr;
        std::map<std::string, std::string> params;
        std::string allow;  // for kMethodNotAllowed and OPTIONS: "GET, HEAD, OPTIONS"
    };
    // HEAD matches GET routes. Thread-safe for concurrent reads.
    Match Find(std::string_view method, std::string_view raw_path) const;
    // Allowed methods for a path ("" when no route matches the path).
    std::string AllowedMethods(std::string_view raw_path) const;

    std::size_t size() const { return routes_.size(); }

private:
    std::vector<std::unique_ptr<Route>> routes_;
};

}  // namespace contex::server
