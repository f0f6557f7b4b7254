// The route table: every HTTP route of the product, registered in one place that reads
// like an API index (api.md §2). Handlers are thin: decode, call one component, encode.
#pragma once

#include <optional>
#include <string>

#include "common/clock.hpp"
#include "engine/engine.hpp"
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

    // Core routes (api.md §3.3–3.13) are registered only when an engine is given.
    engine::Engine* engine = nullptr;
    // MAX_BATCH_ITEMS: items per batch publish / batch register request.
    std::size_t max_batch_items = 100;
    // Durations reported in bodies (batch duration_ms); the system clock when null.
    const Clock* clock = nullptr;
};

// Registers every route whose dependencies are present in `context`; `context` must
// outlive the router.
void RegisterRoutes(server::Router& router, const ApiContext& context);

}  // namespace contex::api
