// Core handlers (api.md §3.3–3.13): decode and validate, one engine call, encode.
// Every handler needs context.engine != nullptr and runs on the handler pool (engine
// calls block). Errors leave through ErrorToResponse, except the routes whose spec puts
// an engine error at a body location (publish node limit, register channel/URL rules).
#pragma once

#include "api/routes.hpp"
#include "observability/metrics.hpp"
#include "server/http.hpp"

namespace contex::api {

// Registers the metrics the core handlers maintain (contex_sse_connections), so they are
// exposed from start-up.
void RegisterCoreMetrics(obs::MetricsRegistry& metrics);

// POST /data/publish -> 200 {"status":"published",...}; 422; 413; 503.
server::Response HandlePublish(const ApiContext& context, server::Request& request);
// POST /batch/publish -> 200 {"status":"completed",...}; any invalid item -> 422, nothing
// published; engine failures become "failed" items.
server::Response HandleBatchPublish(const ApiContext& context, server::Request& request);
// POST /agents/register -> 200 {"status":"registered",...}.
server::Response HandleRegister(const ApiContext& context, server::Request& request);
// POST /batch/register -> 200 envelope as batch publish.
server::Response HandleBatchRegister(const ApiContext& context, server::Request& request);
// DELETE /agents/{agent_id} -> 200 {"status":"unregistered","agent_id"}; 404.
server::Response HandleUnregister(const ApiContext& context, server::Request& request);
// GET /agents[?project_id=] -> 200 {"agents":[...],"count":n}.
server::Response HandleListAgents(const ApiContext& context, server::Request& request);
// GET /agents/{agent_id} -> 200 agent object; 404.
server::Response HandleGetAgent(const ApiContext& context, server::Request& request);
// GET /agents/{agent_id}/context[?format=json|toon] -> JSON, or TOON text/plain.
server::Response HandleAgentContext(const ApiContext& context, server::Request& request);
// GET /agents/{agent_id}/status -> 200 status object; 404.
server::Response HandleAgentStatus(const ApiContext& context, server::Request& request);
// GET /agents/{agent_id}/stream -> SSE (Last-Event-ID header or ?last_event_id= cursor);
// 404 JSON before the stream starts for unknown agents; 503 above SSE_MAX_STREAMS.
server::Response HandleAgentStream(const ApiContext& context, server::Request& request);
// POST /projects/{project_id}/query -> JSON, or TOON text/plain for response_format toon.
server::Response HandleQuery(const ApiContext& context, server::Request& request);
// GET /projects/{project_id}/events -> 200 {"events":[...],"count":n}.
server::Response HandleEvents(const ApiContext& context, server::Request& request);
// GET /projects/{project_id}/data -> node listing, data-key list or export document.
server::Response HandleProjectData(const ApiContext& context, server::Request& request);
// POST /projects/{project_id}/import (raw body, any Content-Type) -> 200 / 400 bodies of
// api.md §3.13.
server::Response HandleImport(const ApiContext& context, server::Request& request);

}  // namespace contex::api
