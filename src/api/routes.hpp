// The route table: every HTTP route of the product, registered in one place that reads
// like an API index (api.md §2). Handlers are thin: decode, call one component, encode.
#pragma once

#include <optional>
#include <string>

#include "observability/health.hpp"
#include "observability/metrics.hpp"
#include "server/router.hpp"

namespace contex::api {

// What the handlers need, owned by the app and outliving the router.
struct ApiContext {
    std::string version;
    obs::HealthRegistry* health = nullptr;
    obs::MetricsRegistry* metrics = nullptr;
    bool metrics_enabled = true;
    std::optional<std::string> metrics_token;
};

void RegisterRoutes(server::Router& router, const ApiContext& context);

}  // namespace contex::api
