#include "api/routes.hpp"

#include "api/core_handlers.hpp"
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
    const RouteOptions scrape{
        .dispatch = Dispatch::kPool, .legacy = true, .quiet = true, .count_in_metrics = false};

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

    if (!ctx.engine) return;  // core routes need the engine (tests of the foundation run without)
    if (ctx.metrics) RegisterCoreMetrics(*ctx.metrics);
    const RouteOptions core{.dispatch = Dispatch::kPool, .legacy = true};

    // --- data (api.md §3.3-3.4) ---------------------------------------------------
    router.AddApi("POST", "/data/publish", bind(HandlePublish), core);
    router.AddApi("POST", "/batch/publish", bind(HandleBatchPublish), core);

    // --- agents (api.md §3.5-3.9) -------------------------------------------------
    router.AddApi("POST", "/agents/register", bind(HandleRegister), core);
    router.AddApi("POST", "/batch/register", bind(HandleBatchRegister), core);
    router.AddApi("GET", "/agents", bind(HandleListAgents), core);
    router.AddApi("GET", "/agents/{agent_id}", bind(HandleGetAgent), core);
    router.AddApi("DELETE", "/agents/{agent_id}", bind(HandleUnregister), core);
    router.AddApi("GET", "/agents/{agent_id}/context", bind(HandleAgentContext), core);
    router.AddApi("GET", "/agents/{agent_id}/status", bind(HandleAgentStatus), core);
    router.AddApi("GET", "/agents/{agent_id}/stream", bind(HandleAgentStream), core);

    // --- projects (api.md §3.10-3.13) ---------------------------------------------
    router.AddApi("POST", "/projects/{project_id}/query", bind(HandleQuery), core);
    router.AddApi("GET", "/projects/{project_id}/events", bind(HandleEvents), core);
    router.AddApi("GET", "/projects/{project_id}/data", bind(HandleProjectData), core);
    router.AddApi("POST", "/projects/{project_id}/import", bind(HandleImport), core);
}

}  // namespace contex::api
