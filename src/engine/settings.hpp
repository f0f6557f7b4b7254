// Engine settings, filled by the app from the configuration (operations.md §1.5–1.6).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/result.hpp"

#include "index/project_index.hpp"

namespace contex::engine {

struct EngineSettings {
    double similarity_threshold = 0.5;
    int max_matches = 10;
    int max_context_size = 51200;  // tokens; 0 disables
    double keyword_threshold = 5.0;
    int rrf_k = 60;
    double vector_boost = 1.0;
    bool bm25_enabled = true;
    int min_candidates = 50;
    int ef_search = 128;
    int catchup_max_events = 100;
    std::size_t max_nodes_per_key = 10000;
    std::size_t max_request_bytes = 10485760;
    std::size_t chunk_max_tokens = 200;
    int sse_max_streams = 1000;
    int notification_retention_days = 7;
    int notification_max_per_agent = 1000;
    index::IndexOptions index;
    bool index_preload = false;                // INDEX_PRELOAD: load every project at start
    std::size_t index_max_memory_bytes = 0;    // INDEX_MAX_MEMORY_MB; 0 = unlimited
    std::chrono::seconds index_reconcile{60};  // INDEX_RECONCILE_SECONDS
    // The webhook destination policy (operations.md §8.7) applied at registration; its
    // kInvalidArgument message names webhook_url. Unset: every http(s) URL is accepted.
    std::function<Status(std::string_view url)> check_webhook_url;
};

}  // namespace contex::engine
