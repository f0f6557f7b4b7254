// Core routes as data (STYLE.md "API behaviour as data"): request -> expected status and
// exact body, through the real route table, against a scripted engine.
#include "api/core_handlers.hpp"

#include <gtest/gtest.h>

#include "api/routes.hpp"
#include "api/testing/fake_engine.hpp"
#include "common/clock.hpp"
#include "common/strings.hpp"
#include "engine/toon.hpp"
#include "server/router.hpp"
#include "server/sse.hpp"

namespace contex::api {
namespace {

using testing::FakeEngine;

// One app-like setup per test: route table + fake engine + manual clock.
struct Harness {
    Harness() {
        context.version = "1.0.0";
        context.engine = &engine;
        context.clock = &clock;
        context.max_batch_items = 3;
        context.metrics = &metrics;
        RegisterRoutes(router, context);
    }

    server::Response Call(std::string method, std::string target, std::string body = "",
                          std::vector<std::pair<std::string, std::string>> headers = {
                              {"Content-Type", "application/json"}}) {
        server::Request r;
        r.method = std::move(method);
        r.target = target;
        auto q = target.find('?');
        r.path = target.substr(0, q);
        if (q != std::string::npos) {
            for (auto pair : Split(std::string_view(target).substr(q + 1), '&')) {
                auto eq = pair.find('=');
                auto key = PercentDecode(pair.substr(0, eq)).value_or("");
                auto value = eq == std::string_view::npos
                                 ? std::string()
                                 : PercentDecode(pair.substr(eq + 1)).value_or("");
                r.query.emplace_back(key, value);
            }
        }
        for (auto& [k, v] : headers) r.headers.Set(k, v);
        r.body = std::move(body);
        r.request_id = "req-1";
        auto match = router.Find(r.method, r.path);
        if (match.outcome == server::Router::Outcome::kNotFound) {
            return server::Response::Detail(404, "Not Found");
        }
        if (match.outcome == server::Router::Outcome::kMethodNotAllowed) {
            return server::Response::Detail(405, "Method Not Allowed");
        }
        r.path_params = match.params;
        return match.route->handler(r);
    }

    FakeEngine engine;
    ManualClock clock;
    obs::MetricsRegistry metrics;
    ApiContext context;
    server::Router router;
};

struct Case {
    const char* name;
    const char* method;
    const char* target;
    const char* body;
    int status;
    const char* want;  // exact response body
};

// clang-format off
// Messages used more than once.
#define CONTEX_TOO_SHORT_422(loc, input)                                 \
    R"({"detail":[{"type":"string_too_short","loc":)" loc                \
    R"(,"msg":"String should have at least 1 character","input":)" input \
    R"(,"ctx":{"min_length":1}}]})"

const Case kCases[] = {
    // ---- publish (api.md §3.3, §7.3 items 2, 11) --------------------------------------
    {"publish_sdk_body", "POST", "/api/v1/data/publish",
     R"({"project_id":"my-app","data_key":"tech_stack","data":{"frontend":"React"},"data_format":"json","metadata":null})",
     200,
     R"({"status":"published","project_id":"my-app","data_key":"tech_stack","sequence":"1","changed":true,"format":"json","node_count":1,"warnings":[]})"},
    {"publish_legacy_prefix", "POST", "/api/data/publish",
     R"({"project_id":"p","data_key":"k","data":null})", 200,
     R"({"status":"published","project_id":"p","data_key":"k","sequence":"1","changed":true,"format":"json","node_count":1,"warnings":[]})"},
    {"publish_identical_reports_unchanged_and_warnings", "POST", "/api/v1/data/publish",
     R"({"project_id":"p","data_key":"same","data":"x","data_format":" YAML ","event_type":null})",
     200,
     R"({"status":"published","project_id":"p","data_key":"same","sequence":"1","changed":false,"format":"yaml","node_count":1,"warnings":["data_format 'yaml' could not be parsed"]})"},
    {"publish_unknown_format_hint", "POST", "/api/v1/data/publish",
     R"({"project_id":"p","data_key":"k","data":"# T","data_format":"docx"})", 422,
     R"({"detail":[{"type":"value_error","loc":["body","data_format"],"msg":"Value error, unknown data_format 'docx'","input":"docx","ctx":{"error":"unknown data_format 'docx'"}}]})"},
    {"publish_blank_format_hint_detects", "POST", "/api/v1/data/publish",
     R"({"project_id":"p","data_key":"k","data":1,"data_format":"  "})", 200,
     R"({"status":"published","project_id":"p","data_key":"k","sequence":"1","changed":true,"format":"json","node_count":1,"warnings":[]})"},
    {"publish_empty_key", "POST", "/api/v1/data/publish",
     R"({"project_id":"p","data_key":"","data":{}})", 422,
     CONTEX_TOO_SHORT_422(R"(["body","data_key"])", R"("")")},
    {"publish_missing_fields", "POST", "/api/v1/data/publish", "{}", 422,
     R"({"detail":[{"type":"missing","loc":["body","project_id"],"msg":"Field required","input":{}},{"type":"missing","loc":["body","data_key"],"msg":"Field required","input":{}},{"type":"missing","loc":["body","data"],"msg":"Field required","input":{}}]})"},
    {"publish_non_string_id", "POST", "/api/v1/data/publish",
     R"({"project_id":0,"data_key":"k","data":1})", 422,
     R"({"detail":[{"type":"string_type","loc":["body","project_id"],"msg":"Input should be a valid string","input":0}]})"},
    {"publish_null_required_id", "POST", "/api/v1/data/publish",
     R"({"project_id":null,"data_key":"k","data":1})", 422,
     R"({"detail":[{"type":"string_type","loc":["body","project_id"],"msg":"Input should be a valid string","input":null}]})"},
    {"publish_empty_event_type", "POST", "/api/v1/data/publish",
     R"({"project_id":"p","data_key":"k","data":1,"event_type":""})", 422,
     CONTEX_TOO_SHORT_422(R"(["body","event_type"])", R"("")")},
    {"publish_format_not_string", "POST", "/api/v1/data/publish",
     R"({"project_id":"p","data_key":"k","data":1,"data_format":7})", 422,
     R"({"detail":[{"type":"string_type","loc":["body","data_format"],"msg":"Input should be a valid string","input":7}]})"},
    {"publish_body_not_object", "POST", "/api/v1/data/publish", "[1]", 422,
     R"({"detail":[{"type":"model_attributes_type","loc":["body"],"msg":"Input should be a valid dictionary or object to extract fields from","input":[1]}]})"},
    {"publish_empty_body", "POST", "/api/v1/data/publish", "", 422,
     R"({"detail":[{"type":"missing","loc":["body"],"msg":"Field required","input":null}]})"},
    {"publish_node_limit", "POST", "/api/v1/data/publish",
     R"({"project_id":"p","data_key":"huge","data":[1,2]})", 422,
     R"({"detail":[{"type":"value_error","loc":["body","data"],"msg":"Value error, data produces 12000 nodes; the limit is 10000","input":[1,2],"ctx":{"error":"data produces 12000 nodes; the limit is 10000"}}]})"},
    {"publish_storage_down", "POST", "/api/v1/data/publish",
     R"({"project_id":"p","data_key":"down","data":1})", 503,
     R"({"detail":"Database unavailable"})"},
    {"publish_internal_error_hides_message", "POST", "/api/v1/data/publish",
     R"({"project_id":"p","data_key":"boom","data":1})", 500,
     R"({"detail":"Internal Server Error","request_id":"req-1"})"},

    // ---- batch publish (§3.4)
    // ------------------------------------------------------------
    {"batch_publish_mixed_outcomes", "POST", "/api/v1/batch/publish",
     R"([{"project_id":"P","data_key":"a","data":1},{"project_id":"P","data_key":"down","data":2},{"project_id":"P","data_key":"boom","data":3}])",
     200,
     R"({"status":"completed","total":3,"successful":1,"failed":2,"duration_ms":0.0,"results":[{"status":"success","project_id":"P","data_key":"a","sequence":"1","changed":true},{"status":"failed","project_id":"P","data_key":"down","error":"Database unavailable"},{"status":"failed","project_id":"P","data_key":"boom","error":"Internal Server Error"}]})"},
    {"batch_publish_not_a_list", "POST", "/api/batch/publish", "{}", 422,
     R"({"detail":[{"type":"list_type","loc":["body"],"msg":"Input should be a valid list","input":{}}]})"},
    {"batch_publish_empty", "POST", "/api/v1/batch/publish", "[]", 422,
     R"({"detail":[{"type":"too_short","loc":["body"],"msg":"List should have at least 1 item after validation, not 0","input":[],"ctx":{"field_type":"List","min_length":1,"actual_length":0}}]})"},
    {"batch_publish_over_limit", "POST", "/api/v1/batch/publish", "[{},{},{},{}]", 422,
     R"({"detail":[{"type":"too_long","loc":["body"],"msg":"List should have at most 3 items after validation, not 4","input":[{},{},{},{}],"ctx":{"field_type":"List","max_length":3,"actual_length":4}}]})"},
    {"batch_publish_invalid_item", "POST",
     "/api/v1/batch/publish", R"([{"project_id":"P","data_key":"a","data":1},{"project_id":"P","data_key":"","data":1},7])", 422, R"({"detail":[{"type":"string_too_short","loc":["body",1,"data_key"],"msg":"String should have at least 1 character","input":"","ctx":{"min_length":1}},{"type":"model_attributes_type","loc":["body",2],"msg":"Input should be a valid dictionary or object to extract fields from","input":7}]})"},

    // ---- register (§3.5, §7.3 items 6-8)
    // -----------------------------------------------------
    {"register_sdk_body", "POST", "/api/v1/agents/register",
     R"({"agent_id":"code-reviewer","project_id":"my-app","data_needs":["tech stack","event model"],"notification_method":"redis","webhook_url":null,"webhook_secret":null,"last_seen_sequence":"0","response_format":"json"})",
     200,
     R"({"status":"registered","agent_id":"code-reviewer","project_id":"my-app","caught_up_events":2,"current_sequence":"7","matched_needs":{"tech stack":1,"event model":0},"notification_channel":"agent:code-reviewer:updates","context_url":"/api/v1/agents/code-reviewer/context","stream_url":"/api/v1/agents/code-reviewer/stream"})"},
    {"register_urls_escape_the_id", "POST", "/api/agents/register",
     R"({"agent_id":"a b/c","project_id":"p","data_needs":[]})", 200,
     R"({"status":"registered","agent_id":"a b/c","project_id":"p","caught_up_events":2,"current_sequence":"7","matched_needs":{},"notification_channel":"agent:a b/c:updates","context_url":"/api/v1/agents/a%20b%2Fc/context","stream_url":"/api/v1/agents/a%20b%2Fc/stream"})"},
    {"register_missing_fields", "POST", "/api/v1/agents/register", R"({"agent_id":"a"})",
     422,
     R"({"detail":[{"type":"missing","loc":["body","project_id"],"msg":"Field required","input":{"agent_id":"a"}},{"type":"missing","loc":["body","data_needs"],"msg":"Field required","input":{"agent_id":"a"}}]})"},
    {"register_needs_not_a_list", "POST", "/api/v1/agents/register",
     R"({"agent_id":"a","project_id":"p","data_needs":"x"})", 422,
     R"({"detail":[{"type":"list_type","loc":["body","data_needs"],"msg":"Input should be a valid list","input":"x"}]})"},
    {"register_need_items", "POST", "/api/v1/agents/register",
     R"({"agent_id":"a","project_id":"p","data_needs":["ok",5,""]})", 422,
     R"({"detail":[{"type":"string_type","loc":["body","data_needs",1],"msg":"Input should be a valid string","input":5},{"type":"string_too_short","loc":["body","data_needs",2],"msg":"String should have at least 1 character","input":"","ctx":{"min_length":1}}]})"},
    {"register_unknown_method", "POST", "/api/v1/agents/register",
     R"({"agent_id":"a","project_id":"p","data_needs":[],"notification_method":"email"})",
     422,
     R"({"detail":[{"type":"literal_error","loc":["body","notification_method"],"msg":"Input should be 'redis' or 'webhook'","input":"email","ctx":{"expected":"'redis' or 'webhook'"}}]})"},
    {"register_webhook_requires_url", "POST", "/api/v1/agents/register",
     R"({"agent_id":"a","project_id":"p","data_needs":[],"notification_method":"webhook","webhook_url":null})",
     422,
     R"({"detail":[{"type":"value_error","loc":["body","webhook_url"],"msg":"Value error, webhook_url is required when notification_method='webhook'","input":null,"ctx":{"error":"webhook_url is required when notification_method='webhook'"}}]})"},
    {"register_relative_url", "POST", "/api/v1/agents/register", R"({"agent_id":"a","project_id":"p","data_needs":[],"notification_method":"webhook","webhook_url":"not a url"})", 422, R"({"detail":[{"type":"url_parsing","loc":["body","webhook_url"],"msg":"Input should be a valid URL, relative URL without a base","input":"not a url","ctx":{"error":"relative URL without a base"}}]})"},
    {"register_url_scheme", "POST", "/api/v1/agents/register",
     R"({"agent_id":"a","project_id":"p","data_needs":[],"webhook_url":"ftp://host/x"})",
     422,
     R"({"detail":[{"type":"url_scheme","loc":["body","webhook_url"],"msg":"URL scheme should be 'http' or 'https'","input":"ftp://host/x","ctx":{"expected_schemes":"'http' or 'https'"}}]})"},
    {"register_channel_prefix", "POST", "/api/v1/agents/register",
     R"({"agent_id":"a","project_id":"p","data_needs":[],"notification_channel":"agent:b:updates"})",
     422,
     R"({"detail":[{"type":"value_error","loc":["body","notification_channel"],"msg":"Value error, notification_channel must start with 'agent:a:'","input":"agent:b:updates","ctx":{"error":"notification_channel must start with 'agent:a:'"}}]})"},
    {"register_custom_channel", "POST", "/api/v1/agents/register",
     R"({"agent_id":"a","project_id":"p","data_needs":[],"notification_channel":"agent:a:mine"})",
     200,
     R"({"status":"registered","agent_id":"a","project_id":"p","caught_up_events":2,"current_sequence":"7","matched_needs":{},"notification_channel":"agent:a:mine","context_url":"/api/v1/agents/a/context","stream_url":"/api/v1/agents/a/stream"})"},
    {"register_bad_sequence", "POST", "/api/v1/agents/register",
     R"({"agent_id":"a","project_id":"p","data_needs":[],"last_seen_sequence":"abc"})", 422,
     R"({"detail":[{"type":"value_error","loc":["body","last_seen_sequence"],"msg":"Value error, last_seen_sequence must be a decimal integer","input":"abc","ctx":{"error":"last_seen_sequence must be a decimal integer"}}]})"},
    {"register_response_format_literal", "POST", "/api/v1/agents/register",
     R"({"agent_id":"a","project_id":"p","data_needs":[],"response_format":"html"})", 422,
     R"({"detail":[{"type":"literal_error","loc":["body","response_format"],"msg":"Input should be 'json', 'yaml', 'toml', 'csv', 'xml', 'markdown', 'toon' or 'text'","input":"html","ctx":{"expected":"'json', 'yaml', 'toml', 'csv', 'xml', 'markdown', 'toon' or 'text'"}}]})"},
    {"register_empty_secret", "POST", "/api/v1/agents/register",
     R"({"agent_id":"a","project_id":"p","data_needs":[],"webhook_secret":""})", 422,
     CONTEX_TOO_SHORT_422(R"(["body","webhook_secret"])", R"("")")},
    {"register_engine_blocks_destination", "POST", "/api/v1/agents/register",
     R"({"agent_id":"blocked","project_id":"p","data_needs":[],"notification_method":"webhook","webhook_url":"http://169.254.169.254/"})",
     422,
     R"({"detail":[{"type":"value_error","loc":["body","webhook_url"],"msg":"Value error, webhook_url resolves to a blocked address","input":"http://169.254.169.254/","ctx":{"error":"webhook_url resolves to a blocked address"}}]})"},
    {"register_storage_down", "POST", "/api/v1/agents/register",
     R"({"agent_id":"down","project_id":"p","data_needs":[]})", 503,
     R"({"detail":"Database unavailable"})"},

    // ---- batch register (§3.6)
    // ---------------------------------------------------------------
    {"batch_register_mixed", "POST",
     "/api/v1/batch/register", R"([{"agent_id":"A","project_id":"P","data_needs":["tech"]},{"agent_id":"down","project_id":"P","data_needs":[]}])", 200, R"({"status":"completed","total":2,"successful":1,"failed":1,"duration_ms":0.0,"results":[{"status":"success","agent_id":"A","project_id":"P","matched_needs":{"tech":1},"notification_channel":"agent:A:updates"},{"status":"failed","agent_id":"down","project_id":"P","error":"Database unavailable"}]})"},
    {"batch_register_invalid_item", "POST", "/api/batch/register",
     R"([{"agent_id":"A","project_id":"P","data_needs":[]},{"agent_id":"B","project_id":"P"}])",
     422,
     R"({"detail":[{"type":"missing","loc":["body",1,"data_needs"],"msg":"Field required","input":{"agent_id":"B","project_id":"P"}}]})"},

    // ---- unregister and agents (§3.7-3.8, §7.3 item 10)
    // ---------------------------------------
    {"unregister_known", "DELETE", "/api/v1/agents/code-reviewer", "", 200,
     R"({"status":"unregistered","agent_id":"code-reviewer"})"},
    {"unregister_unknown", "DELETE", "/api/v1/agents/nonexistent-agent-xyz", "", 404,
     R"({"detail":"Agent not found"})"},
    {"unregister_control_character", "DELETE", "/api/v1/agents/a%01", "", 422,
     R"({"detail":[{"type":"string_pattern_mismatch","loc":["path","agent_id"],"msg":"String should match pattern '^[^\\x00-\\x1F\\x7F]*$'","input":"a\u0001","ctx":{"pattern":"^[^\\x00-\\x1F\\x7F]*$"}}]})"},
    {"agents_list", "GET", "/api/v1/agents", "", 200,
     R"({"agents":["code-reviewer","planner"],"count":2})"},
    {"agents_list_filtered", "GET", "/api/agents/?project_id=other", "", 200,
     R"({"agents":[],"count":0})"},
    {"agents_list_empty_filter", "GET", "/api/v1/agents?project_id=", "", 422,
     CONTEX_TOO_SHORT_422(R"(["query","project_id"])", R"("")")},
    {"agent_get", "GET", "/api/v1/agents/code-reviewer", "", 200,
     R"({"agent_id":"code-reviewer","project_id":"my-app","has_webhook_secret":false})"},
    {"agent_get_literal_segment_is_an_id", "GET", "/api/v1/agents/register", "", 404,
     R"({"detail":"Agent not found"})"},
    {"agent_context", "GET", "/api/v1/agents/code-reviewer/context", "", 200,
     R"({"agent_id":"code-reviewer","project_id":"my-app","sequence":"7","format":"json","context":{"tech":[{"data_key":"tech_stack"}],"events":[]},"matched_needs":{"tech":1,"events":0}})"},
    {"agent_context_bad_format", "GET", "/api/v1/agents/code-reviewer/context?format=xml",
     "", 422,
     R"({"detail":[{"type":"literal_error","loc":["query","format"],"msg":"Input should be 'json' or 'toon'","input":"xml","ctx":{"expected":"'json' or 'toon'"}}]})"},
    {"agent_context_unknown", "GET", "/api/v1/agents/nope/context", "", 404,
     R"({"detail":"Agent not found"})"},
    {"agent_status", "GET", "/api/v1/agents/code-reviewer/status", "", 200,
     R"({"agent_id":"code-reviewer","status":"active"})"},
    {"agent_status_unknown", "GET", "/api/agents/nope/status", "", 404,
     R"({"detail":"Agent not found"})"},
    {"agent_stream_unknown", "GET", "/api/v1/agents/nope/stream", "", 404,
     R"({"detail":"Agent not found"})"},
    {"agent_stream_over_limit", "GET", "/api/v1/agents/busy/stream", "", 503,
     R"({"detail":"Too many open streams"})"},

    // ---- query (§3.10, §7.3 item 12)
    // ----------------------------------------------------------
    {"query_sdk_body", "POST", "/api/v1/projects/my-app/query",
     R"({"project_id":"my-app","query":"frontend","max_results":10,"threshold":null})", 200,
     R"({"query":"frontend","matches":[{"data_key":"tech_stack","similarity":0.61,"data":{"frontend":"React"}}],"total_matches":1})"},
    {"query_unknown_project", "POST", "/api/projects/empty/query", R"({"query":"q"})", 200,
     R"({"query":"q","matches":[],"total_matches":0})"},
    {"query_missing", "POST", "/api/v1/projects/p/query", R"({"top_k":3})", 422,
     R"({"detail":[{"type":"missing","loc":["body","query"],"msg":"Field required","input":{"top_k":3}}]})"},
    {"query_empty", "POST", "/api/v1/projects/p/query", R"({"query":""})", 422,
     CONTEX_TOO_SHORT_422(R"(["body","query"])", R"("")")},
    {"query_ranges", "POST", "/api/v1/projects/p/query",
     R"({"query":"q","top_k":0,"max_results":101,"threshold":1.5,"max_tokens":999})", 422,
     R"({"detail":[{"type":"greater_than_equal","loc":["body","top_k"],"msg":"Input should be greater than or equal to 1","input":0,"ctx":{"ge":1}},{"type":"less_than_equal","loc":["body","max_results"],"msg":"Input should be less than or equal to 100","input":101,"ctx":{"le":100}},{"type":"less_than_equal","loc":["body","threshold"],"msg":"Input should be less than or equal to 1","input":1.5,"ctx":{"le":1}},{"type":"greater_than_equal","loc":["body","max_tokens"],"msg":"Input should be greater than or equal to 1000","input":999,"ctx":{"ge":1000}}]})"},
    {"query_coercions", "POST",
     "/api/v1/projects/p/query", R"({"query":"q","top_k":5.5,"max_results":"x","threshold":"much"})", 422, R"({"detail":[{"type":"int_from_float","loc":["body","top_k"],"msg":"Input should be a valid integer, got a number with a fractional part","input":5.5},{"type":"int_parsing","loc":["body","max_results"],"msg":"Input should be a valid integer, unable to parse string as an integer","input":"x"},{"type":"float_parsing","loc":["body","threshold"],"msg":"Input should be a valid number, unable to parse string as a number","input":"much"}]})"},
    {"query_path_and_body_errors_together", "POST", "/api/v1/projects/a%7F/query",
     R"({"query":7})", 422,
     R"({"detail":[{"type":"string_pattern_mismatch","loc":["path","project_id"],"msg":"String should match pattern '^[^\\x00-\\x1F\\x7F]*$'","input":"a\u007f","ctx":{"pattern":"^[^\\x00-\\x1F\\x7F]*$"}},{"type":"string_type","loc":["body","query"],"msg":"Input should be a valid string","input":7}]})"},
    {"query_storage_down", "POST", "/api/v1/projects/down/query", R"({"query":"q"})", 503,
     R"({"detail":"Database unavailable"})"},

    // ---- events (§3.11)
    // -----------------------------------------------------------------------
    {"events_default", "GET", "/api/v1/projects/my-app/events", "", 200,
     R"({"events":[{"sequence":"1","event_type":"tech_stack_updated"}],"count":1})"},
    {"events_unknown_project", "GET", "/api/projects/none/events?since=5", "", 200,
     R"({"events":[],"count":0})"},
    {"events_bad_since", "GET", "/api/v1/projects/p/events?since=abc", "", 422,
     R"({"detail":[{"type":"int_parsing","loc":["query","since"],"msg":"Input should be a valid integer, unable to parse string as an integer","input":"abc"}]})"},
    {"events_bad_count", "GET", "/api/v1/projects/p/events?count=0", "", 422,
     R"({"detail":[{"type":"greater_than_equal","loc":["query","count"],"msg":"Input should be greater than or equal to 1","input":"0","ctx":{"ge":1}}]})"},
    {"events_count_too_big", "GET", "/api/v1/projects/p/events?count=1001", "", 422,
     R"({"detail":[{"type":"less_than_equal","loc":["query","count"],"msg":"Input should be less than or equal to 1000","input":"1001","ctx":{"le":1000}}]})"},
    {"events_count_not_int", "GET", "/api/v1/projects/p/events?count=x", "", 422,
     R"({"detail":[{"type":"int_parsing","loc":["query","count"],"msg":"Input should be a valid integer, unable to parse string as an integer","input":"x"}]})"},

    // ---- project data (§3.12)
    // -----------------------------------------------------------------
    {"data_listing", "GET", "/api/v1/projects/my-app/data", "", 200,
     R"([{"data_key":"tech_stack","node_key":"tech_stack.root"}])"},
    {"data_keys_only", "GET", "/api/v1/projects/my-app/data?include_content=false", "", 200,
     R"({"project_id":"my-app","data_keys":["api_specs","tech_stack"],"count":2})"},
    {"data_keys_filtered", "GET",
     "/api/projects/my-app/data?include_content=no&data_key=tech_stack", "", 200,
     R"({"project_id":"my-app","data_keys":["tech_stack"],"count":1})"},
    {"data_bad_format", "GET", "/api/v1/projects/my-app/data?format=csv", "", 422,
     R"({"detail":[{"type":"literal_error","loc":["query","format"],"msg":"Input should be 'json' or 'toon'","input":"csv","ctx":{"expected":"'json' or 'toon'"}}]})"},
    {"data_bad_bool", "GET", "/api/v1/projects/my-app/data?include_events=maybe", "", 422,
     R"({"detail":[{"type":"bool_parsing","loc":["query","include_events"],"msg":"Input should be a valid boolean, unable to interpret input","input":"maybe"}]})"},

    // ---- import (§3.13)
    // -----------------------------------------------------------------------
    {"import_bad_format", "POST", "/api/v1/projects/my-app/import?format=xml", "{}", 400,
     R"({"detail":"Format must be 'json' or 'toon'"})"},
    {"import_project_mismatch", "POST", "/api/v1/projects/my-app/import",
     R"({"project_id":"other","data":{}})", 400,
     R"({"detail":"Project ID mismatch: URL has 'my-app' but data has 'other'"})"},
    {"import_bad_bool", "POST", "/api/v1/projects/my-app/import?overwrite=perhaps", "{}",
     422,
     R"({"detail":[{"type":"bool_parsing","loc":["query","overwrite"],"msg":"Input should be a valid boolean, unable to interpret input","input":"perhaps"}]})"},
};
// clang-format on

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class CoreRoutes : public ::testing::TestWithParam<Case> {};

TEST_P(CoreRoutes, AnswersAsSpecified) {
    const Case& c = GetParam();
    Harness h;
    auto response = h.Call(c.method, c.target, c.body);
    EXPECT_EQ(response.status, c.status);
    EXPECT_EQ(response.body, c.want);
    if (response.status != 200 || response.body.front() == '{' || response.body.front() == '[') {
        EXPECT_EQ(response.headers.Get("Content-Type").value_or(""), "application/json");
    }
    if (response.status == 503) {
        EXPECT_EQ(response.headers.Get("Retry-After").value_or(""), "1");
    }
}

INSTANTIATE_TEST_SUITE_P(Table, CoreRoutes, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(info.param.name); });

// ---- what reaches the engine ------------------------------------------------------------

TEST(CoreHandlers, PublishPassesFieldsToTheEngine) {
    Harness h;
    auto r = h.Call(
        "POST", "/api/v1/data/publish",
        R"({"project_id":"p","data_key":"k","data":[1,"x"],"data_format":" YAML ","event_type":"custom","unknown":1})");
    ASSERT_EQ(r.status, 200);
    ASSERT_EQ(h.engine.published.size(), 1u);
    const auto& p = h.engine.published[0];
    EXPECT_EQ(p.project_id, "p");
    EXPECT_EQ(p.data_key, "k");
    EXPECT_EQ(ToJson(p.data), R"([1,"x"])");
    EXPECT_EQ(p.data_format, "yaml");
    EXPECT_EQ(p.event_type, "custom");

    h.Call("POST", "/api/v1/data/publish",
           R"({"project_id":"p","data_key":"k","data":null,"data_format":null})");
    ASSERT_EQ(h.engine.published.size(), 2u);
    EXPECT_TRUE(h.engine.published[1].data.is_null());
    EXPECT_FALSE(h.engine.published[1].data_format);
    EXPECT_FALSE(h.engine.published[1].event_type);
}

TEST(CoreHandlers, InvalidBatchPublishesNothing) {
    Harness h;
    auto r = h.Call(
        "POST", "/api/v1/batch/publish",
        R"([{"project_id":"P","data_key":"a","data":1},{"project_id":"P","data_key":"","data":1}])");
    EXPECT_EQ(r.status, 422);
    EXPECT_TRUE(h.engine.published.empty());
}

TEST(CoreHandlers, BatchDurationComesFromTheClock) {
    Harness h;
    // The fake publishes instantly; the clock is moved by a publish hook instead.
    struct SlowEngine : FakeEngine {
        ManualClock* clock = nullptr;
        Result<engine::PublishResult> Publish(const engine::PublishRequest& r) override {
            clock->Advance(std::chrono::microseconds(35714));
            return FakeEngine::Publish(r);
        }
    } slow;
    slow.clock = &h.clock;
    h.context.engine = &slow;
    auto r =
        h.Call("POST", "/api/v1/batch/publish", R"([{"project_id":"P","data_key":"a","data":1}])");
    ASSERT_EQ(r.status, 200);
    EXPECT_NE(r.body.find(R"("duration_ms":35.71,)"), std::string::npos) << r.body;
}

TEST(CoreHandlers, RegisterDecodesEveryField) {
    Harness h;
    auto r = h.Call(
        "POST", "/api/v1/agents/register",
        R"({"agent_id":"a","project_id":"p","data_needs":["x","y"],"notification_method":"webhook","notification_channel":"agent:a:c","webhook_url":"https://hook.example:8443/in?x=1","webhook_secret":"s","last_seen_sequence":"12","response_format":"toon"})");
    ASSERT_EQ(r.status, 200) << r.body;
    const auto& reg = h.engine.registered.at(0);
    EXPECT_EQ(reg.data_needs, (std::vector<std::string>{"x", "y"}));
    EXPECT_EQ(reg.notification_method, "webhook");
    EXPECT_EQ(reg.notification_channel, "agent:a:c");
    EXPECT_EQ(reg.webhook_url, "https://hook.example:8443/in?x=1");
    EXPECT_EQ(reg.webhook_secret, "s");
    EXPECT_EQ(reg.last_seen_sequence, 12);
    EXPECT_EQ(reg.response_format, "toon");
}

TEST(CoreHandlers, LastSeenSequenceForms) {
    const std::pair<const char*, std::int64_t> kForms[] = {
        {R"("0")", 0}, {R"("")", 0}, {"null", 0}, {R"("1767710171000-0")", 0},
        {"5", 5},      {"5.0", 5},   {"-3", 0},   {R"("42")", 42}};
    for (const auto& [form, want] : kForms) {
        Harness h;
        auto r = h.Call(
            "POST", "/api/v1/agents/register",
            std::string(
                R"({"agent_id":"a","project_id":"p","data_needs":[],"last_seen_sequence":)") +
                form + "}");
        ASSERT_EQ(r.status, 200) << form << " " << r.body;
        EXPECT_EQ(h.engine.registered.at(0).last_seen_sequence, want) << form;
    }
    for (const char* bad : {R"("1.5")", R"("x1")", "1.5", "true", R"(" 1")"}) {
        Harness h;
        auto r = h.Call(
            "POST", "/api/v1/agents/register",
            std::string(
                R"({"agent_id":"a","project_id":"p","data_needs":[],"last_seen_sequence":)") +
                bad + "}");
        EXPECT_EQ(r.status, 422) << bad;
        EXPECT_NE(r.body.find("last_seen_sequence must be a decimal integer"), std::string::npos);
    }
}

TEST(CoreHandlers, ChannelLengthIsBounded) {
    const std::string prefix = "agent:a:";
    for (std::size_t length : {255u, 256u}) {
        Harness h;
        std::string channel = prefix + std::string(length - prefix.size(), 'c');
        auto r =
            h.Call("POST", "/api/v1/agents/register",
                   R"({"agent_id":"a","project_id":"p","data_needs":[],"notification_channel":")" +
                       channel + R"("})");
        if (length == 255) {
            EXPECT_EQ(r.status, 200) << r.body;
            EXPECT_EQ(h.engine.registered.at(0).notification_channel, channel);
        } else {
            ASSERT_EQ(r.status, 422);
            EXPECT_NE(r.body.find("notification_channel must be 1-255 characters"),
                      std::string::npos);
        }
    }
}

TEST(CoreHandlers, TooManyNeedsIsTooLong) {
    Harness h;
    std::string needs;
    for (int i = 0; i < 101; ++i) needs += (i ? ",\"n" : "\"n") + std::to_string(i) + "\"";
    auto r = h.Call("POST", "/api/v1/agents/register",
                    R"({"agent_id":"a","project_id":"p","data_needs":[)" + needs + "]}");
    ASSERT_EQ(r.status, 422);
    auto item = ParseJson(r.body).value().at("detail").at(0);
    EXPECT_EQ(item.at("type").as_string(), "too_long");
    EXPECT_EQ(ToJson(item.at("loc")), R"(["body","data_needs"])");
    EXPECT_EQ(ToJson(item.at("ctx")),
              R"({"field_type":"List","max_length":100,"actual_length":101})");

    Harness h2;
    std::string long_need(2001, 'x');
    r = h2.Call("POST", "/api/v1/agents/register",
                R"({"agent_id":"a","project_id":"p","data_needs":[")" + long_need + R"("]})");
    ASSERT_EQ(r.status, 422);
    item = ParseJson(r.body).value().at("detail").at(0);
    EXPECT_EQ(item.at("type").as_string(), "string_too_long");
    EXPECT_EQ(ToJson(item.at("ctx")), R"({"max_length":2000})");
}

TEST(CoreHandlers, QueryOptionsReachTheEngine) {
    Harness h;
    auto r = h.Call(
        "POST", "/api/v1/projects/p%2Fq/query",
        R"({"query":"q","top_k":"7","max_results":3,"threshold":"0.25","max_tokens":2000.0})");
    ASSERT_EQ(r.status, 200) << r.body;
    ASSERT_TRUE(h.engine.last_query);
    EXPECT_EQ(h.engine.last_query->project_id, "p/q");
    EXPECT_EQ(h.engine.last_query->top_k, 7);
    EXPECT_EQ(h.engine.last_query->threshold, 0.25);
    EXPECT_EQ(h.engine.last_query->max_tokens, 2000);
    EXPECT_FALSE(h.engine.last_query->toon);

    Harness d;
    ASSERT_EQ(d.Call("POST", "/api/v1/projects/p/query", R"({"query":"q"})").status, 200);
    EXPECT_EQ(d.engine.last_query->top_k, 5);
    EXPECT_FALSE(d.engine.last_query->threshold);
    EXPECT_FALSE(d.engine.last_query->max_tokens);

    Harness m;
    ASSERT_EQ(
        m.Call("POST", "/api/v1/projects/p/query", R"({"query":"q","top_k":null,"max_results":9})")
            .status,
        200);
    EXPECT_EQ(m.engine.last_query->top_k, 9);
}

TEST(CoreHandlers, ToonQueryIsPlainTextOfTheSameObject) {
    Harness h;
    auto r = h.Call("POST", "/api/v1/projects/my-app/query",
                    R"({"query":"frontend","response_format":"toon"})");
    ASSERT_EQ(r.status, 200);
    EXPECT_TRUE(h.engine.last_query->toon);
    EXPECT_EQ(r.headers.Get("Content-Type").value_or(""), "text/plain; charset=utf-8");
    auto object = ParseJson(
        R"({"query":"frontend","matches":[{"data_key":"tech_stack","similarity":0.61,"data":{"frontend":"React"}}],"total_matches":1})");
    EXPECT_EQ(r.body, engine::ToToon(object.value()));

    // Every other accepted format answers JSON.
    Harness j;
    r = j.Call("POST", "/api/v1/projects/my-app/query",
               R"({"query":"q","response_format":"yaml"})");
    EXPECT_EQ(r.headers.Get("Content-Type").value_or(""), "application/json");
}

TEST(CoreHandlers, ToonContextIsPlainText) {
    Harness h;
    auto json_body = h.Call("GET", "/api/v1/agents/code-reviewer/context?format=json").body;
    auto r = h.Call("GET", "/api/v1/agents/code-reviewer/context?format=toon");
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.headers.Get("Content-Type").value_or(""), "text/plain; charset=utf-8");
    EXPECT_EQ(r.body, engine::ToToon(ParseJson(json_body).value()));
}

TEST(CoreHandlers, EventFiltersAndLegacyCursor) {
    Harness h;
    ASSERT_EQ(
        h.Call("GET",
               "/api/v1/projects/p/events?since=1767710171000-0&count=10&data_key=k&event_type=e")
            .status,
        200);
    EXPECT_EQ(h.engine.last_events->since, 0);
    EXPECT_EQ(h.engine.last_events->count, 10);
    EXPECT_EQ(h.engine.last_events->data_key, "k");
    EXPECT_EQ(h.engine.last_events->event_type, "e");
    ASSERT_EQ(h.Call("GET", "/api/v1/projects/p/events?since=12").status, 200);
    EXPECT_EQ(h.engine.last_events->since, 12);
    EXPECT_EQ(h.engine.last_events->count, 100);
    EXPECT_FALSE(h.engine.last_events->data_key);
}

TEST(CoreHandlers, AgentListFilterReachesTheEngine) {
    Harness h;
    h.Call("GET", "/api/v1/agents?project_id=my-app");
    ASSERT_TRUE(h.engine.last_agents_filter);
    EXPECT_EQ(*h.engine.last_agents_filter, "my-app");
    h.Call("GET", "/api/v1/agents");
    EXPECT_FALSE(*h.engine.last_agents_filter);
}

TEST(CoreHandlers, ExportIsAnAttachment) {
    Harness h;
    auto r = h.Call("GET",
                    "/api/v1/projects/my-app/data?include_events=true&include_agents=1&data_key=k");
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.headers.Get("Content-Disposition").value_or(""),
              "attachment; filename=\"my-app-export.json\"");
    EXPECT_EQ(r.headers.Get("Content-Type").value_or(""), "application/json");
    EXPECT_EQ(r.body,
              "{\n  \"project_id\": \"my-app\",\n  \"version\": \"1.1\",\n  \"data\": {\n    "
              "\"events\": []\n  }\n}");
    ASSERT_TRUE(h.engine.last_export);
    EXPECT_TRUE(h.engine.last_export->include_events);
    EXPECT_FALSE(h.engine.last_export->include_embeddings);
    EXPECT_TRUE(h.engine.last_export->include_agents);
    EXPECT_EQ(h.engine.last_export->data_key, "k");

    auto t = h.Call("GET", "/api/v1/projects/my-app/data?include_embeddings=true&format=toon");
    EXPECT_EQ(t.headers.Get("Content-Disposition").value_or(""),
              "attachment; filename=\"my-app-export.toon\"");
    EXPECT_EQ(t.headers.Get("Content-Type").value_or(""), "text/plain; charset=utf-8");
    EXPECT_EQ(
        t.body,
        engine::ToToon(
            ParseJson(R"({"project_id":"my-app","version":"1.1","data":{"events":[]}})").value()));
}

// ---- import ---------------------------------------------------------------------------

json::object Validation(bool valid, const char* error = nullptr) {
    json::object v;
    v["valid"] = valid;
    json::array errors;
    if (error) errors.emplace_back(error);
    v["errors"] = std::move(errors);
    v["warnings"] = json::array{};
    v["project_id"] = valid ? json::value("my-app") : json::value(nullptr);
    return v;
}

TEST(CoreHandlers, ImportOutcomes) {
    {
        Harness h;
        h.engine.import_outcome.validation =
            Validation(false, "Missing required field: project_id");
        auto r = h.Call("POST", "/api/v1/projects/my-app/import", R"({"data":{}})",
                        {{"Content-Type", "text/plain"}});
        EXPECT_EQ(r.status, 400);
        EXPECT_EQ(
            r.body,
            R"({"detail":"Data validation failed","validation":{"valid":false,"errors":["Missing required field: project_id"],"warnings":[],"project_id":null}})");
    }
    {
        Harness h;
        h.engine.import_outcome.validation = Validation(true);
        auto r = h.Call("POST", "/api/v1/projects/my-app/import?validate_only=true",
                        R"({"project_id":"my-app","data":{}})");
        EXPECT_EQ(r.status, 200);
        EXPECT_EQ(
            r.body,
            R"x({"status":"success","validation":{"valid":true,"errors":[],"warnings":[],"project_id":"my-app"},"message":"Validation passed (no data imported)"})x");
        EXPECT_TRUE(h.engine.last_import->validate_only);
        EXPECT_FALSE(h.engine.last_import->overwrite);
    }
    {
        Harness h;
        h.engine.import_outcome.validation = Validation(true);
        h.engine.import_outcome.imported = true;
        h.engine.import_outcome.stats = json::object{{"events_imported", 3},
                                                     {"embeddings_imported", 5},
                                                     {"agents_imported", 1},
                                                     {"nodes_rebuilt", 5}};
        auto r = h.Call("POST", "/api/projects/my-app/import?overwrite=true",
                        R"({"project_id":"my-app","data":{}})", {});
        EXPECT_EQ(r.status, 200);
        EXPECT_EQ(
            r.body,
            R"({"status":"success","stats":{"project_id":"my-app","events_imported":3,"embeddings_imported":5,"agents_imported":1,"nodes_rebuilt":5},"validation":{"valid":true,"errors":[],"warnings":[],"project_id":"my-app"}})");
        EXPECT_TRUE(h.engine.last_import->overwrite);
        EXPECT_EQ(h.engine.last_import->project_id, "my-app");
    }
}

TEST(CoreHandlers, ImportRejectsUnparsableDocuments) {
    Harness h;
    auto r = h.Call("POST", "/api/v1/projects/my-app/import", "{\"a\":");
    EXPECT_EQ(r.status, 400);
    EXPECT_TRUE(StartsWith(r.body, R"({"detail":"Invalid document: )")) << r.body;
    EXPECT_FALSE(h.engine.last_import);

    r = h.Call("POST", "/api/v1/projects/my-app/import", "");
    EXPECT_EQ(r.status, 400);
    EXPECT_TRUE(StartsWith(r.body, R"({"detail":"Invalid document: )")) << r.body;
}

TEST(CoreHandlers, ImportDecodesToon) {
    Harness h;
    h.engine.import_outcome.validation = Validation(true);
    json::value doc =
        ParseJson(R"({"project_id":"my-app","version":"1.1","data":{"events":[]}})").value();
    auto r = h.Call("POST", "/api/v1/projects/my-app/import?format=toon&validate_only=1",
                    engine::ToToon(doc), {{"Content-Type", "text/plain"}});
    EXPECT_EQ(r.status, 200) << r.body;
    ASSERT_TRUE(h.engine.last_import);
    EXPECT_EQ(h.engine.last_import->document, doc);
}

// ---- SSE stream -----------------------------------------------------------------------

TEST(AgentStream, OpensWithTheEngineFramesAndOwnsTheSubscription) {
    Harness h;
    auto r = h.Call("GET", "/api/v1/agents/code-reviewer/stream");
    ASSERT_EQ(r.status, 200);
    ASSERT_TRUE(r.stream);
    EXPECT_EQ(h.engine.open_subscriptions, 1);
    ASSERT_TRUE(h.engine.last_cursor);
    EXPECT_FALSE(*h.engine.last_cursor);

    h.engine.stream_deliver({9, "data_update", R"({"type":"data_update"})"});
    bool ending = false;
    auto frames = r.stream->TakeFrames(ending);
    ASSERT_EQ(frames.size(), 2u);
    EXPECT_EQ(frames[0],
              "id: 7\nevent: initial_context\ndata: "
              "{\"type\":\"initial_context\",\"sequence\":\"7\"}\n\n");
    EXPECT_EQ(frames[1], "id: 9\nevent: data_update\ndata: {\"type\":\"data_update\"}\n\n");
    EXPECT_FALSE(ending);

    h.engine.stream_deliver(
        {9, "unregistered", R"({"type":"unregistered","agent_id":"code-reviewer"})"});
    frames = r.stream->TakeFrames(ending);
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_TRUE(ending);

    EXPECT_NE(h.metrics.Render().find("contex_sse_connections 1"), std::string::npos);
    r.stream->Finish();  // the server finished writing
    EXPECT_EQ(h.engine.open_subscriptions, 0);
    EXPECT_NE(h.metrics.Render().find("contex_sse_connections 0"), std::string::npos);
}

TEST(AgentStream, DroppedResponseReleasesTheSubscription) {
    Harness h;
    {
        auto r = h.Call("GET", "/api/v1/agents/code-reviewer/stream");
        EXPECT_EQ(h.engine.open_subscriptions, 1);
        EXPECT_EQ(h.metrics.AddGauge("contex_sse_connections", "").Get().value(), 1);
    }
    EXPECT_EQ(h.engine.open_subscriptions, 0);
    EXPECT_EQ(h.metrics.AddGauge("contex_sse_connections", "").Get().value(), 0);
    // A refused stream is not counted.
    EXPECT_EQ(h.Call("GET", "/api/v1/agents/nope/stream").status, 404);
    EXPECT_EQ(h.metrics.AddGauge("contex_sse_connections", "").Get().value(), 0);
    h.engine.stream_deliver({10, "data_update", "{}"});  // stream gone: ignored
}

TEST(AgentStream, CursorFromHeaderOrQuery) {
    struct CursorCase {
        std::string target;
        std::vector<std::pair<std::string, std::string>> headers;
        std::optional<std::int64_t> want;
    };
    const CursorCase kCursors[] = {
        {"/api/v1/agents/code-reviewer/stream", {{"Last-Event-ID", "5"}}, 5},
        {"/api/v1/agents/code-reviewer/stream?last_event_id=3", {}, 3},
        {"/api/v1/agents/code-reviewer/stream?last_event_id=3", {{"Last-Event-ID", "8"}}, 8},
        {"/api/v1/agents/code-reviewer/stream",
         {{"Last-Event-ID", "1767710171000-0"}},
         std::nullopt},
        {"/api/v1/agents/code-reviewer/stream?last_event_id=", {}, std::nullopt},
    };
    for (const auto& c : kCursors) {
        Harness h;
        auto r = h.Call("GET", c.target, "", c.headers);
        ASSERT_EQ(r.status, 200) << c.target;
        EXPECT_EQ(*h.engine.last_cursor, c.want) << c.target;
    }
    Harness h;
    auto r = h.Call("GET", "/api/v1/agents/code-reviewer/stream?last_event_id=abc");
    EXPECT_EQ(r.status, 422);
    EXPECT_EQ(
        r.body,
        R"({"detail":[{"type":"int_parsing","loc":["query","last_event_id"],"msg":"Input should be a valid integer, unable to parse string as an integer","input":"abc"}]})");
    EXPECT_FALSE(h.engine.last_cursor);
}

TEST(CoreRoutesTable, AbsentWithoutAnEngine) {
    ApiContext context;
    context.version = "1.0.0";
    server::Router router;
    RegisterRoutes(router, context);
    EXPECT_EQ(router.Find("POST", "/api/v1/data/publish").outcome,
              server::Router::Outcome::kNotFound);
    Harness h;
    EXPECT_EQ(h.router.Find("POST", "/api/data/publish").outcome, server::Router::Outcome::kFound);
    EXPECT_EQ(h.router.Find("GET", "/api/v1/data/publish").outcome,
              server::Router::Outcome::kMethodNotAllowed);
}

}  // namespace
}  // namespace contex::api
