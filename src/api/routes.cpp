#include "api/routes.hpp"

#include "api/system_handlers.hpp"

namespace contex::api {

using server::Dispatch;
using server::Request;
using server::RouteOptions;

void RegisterRoutes(server::Router& router, const ApiContext& ctx) {
    auto bind = [&ctx](server::Response (*fn)(const ApiContext&, Request&)) {
        return [&ctx, fn](Request& r) { return fn(ctx, r); };
    };
    const RouteOptions inline_quiet{.dispatch = Dispatch::kInline, .legacy = true, .quiet = true};
    const RouteOptions pool_quiet{.dispatch = Dispatch::kPool, .legacy = true, .quiet = true};
    const RouteOptions scrape{.dispatch = Dispatch::kPool, .legacy = true, .quiet = true,
                              .count_in_metrics = false};

    // --- service info and health (public) --------------------------------------
    router.Add("GET", "/", bind(HandleRoot), inline_quiet);
    router.AddApi("GET", "", bind(HandleRoot), inline_quiet);
    router.Add("GET", "/health", bind(HandleBareHealth), inline_quiet);
    router.AddApi("GET", "/health", bind(HandleHealth), pool_quiet);
    router.AddApi("GET", "/health/ready", bind(HandleReady), pool_quiet);
    router.AddApi("GET", "/health/live", bind(HandleLive), inline_quiet);

    // --- metrics (public unless METRICS_TOKEN) ----------------------------------
    router.Add("GET", "/metrics", bind(HandleMetrics), scrape);
    router.AddApi("GET", "/metrics", bind(HandleMetrics), scrape);
}

}  // namespace contex::api
