// Root, health and metrics handlers (api.md §3.1–3.2, operations.md §6).
#pragma once

#include "api/routes.hpp"
#include "server/http.hpp"

namespace contex::api {

server::Response HandleRoot(const ApiContext& context, server::Request& request);
server::Response HandleBareHealth(const ApiContext& context, server::Request& request);
server::Response HandleHealth(const ApiContext& context, server::Request& request);
server::Response HandleReady(const ApiContext& context, server::Request& request);
server::Response HandleLive(const ApiContext& context, server::Request& request);
server::Response HandleMetrics(const ApiContext& context, server::Request& request);

}  // namespace contex::api
