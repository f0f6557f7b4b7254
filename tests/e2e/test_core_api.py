"""Issue 7 black-box checks of every core route (api.md §3.3-3.13): shapes, key order,
validation errors and push over SSE, on SQLite (embedded default) and, when provided,
PostgreSQL + Redis."""
import json
import re
import time
import urllib.parse

import pytest

from core_helpers import SseClient, backend_env, start_core_server, uid

DIGITS = re.compile(r"^\d+$")
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")
MATCH_KEYS = ["data_key", "node_key", "node_path", "node_type", "similarity", "score",
              "match_type", "keyword_score", "data", "description", "token_count", "preview",
              "data_format", "sequence", "metadata"]
TECH = {"frontend": "React with TypeScript", "backend": "FastAPI with Python",
        "database": "PostgreSQL"}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def core(request):
    s = start_core_server(request.param)
    yield s
    s.close()


def publish(server, project, key, data, prefix="/api/v1", **extra):
    body = {"project_id": project, "data_key": key, "data": data, **extra}
    r = server.post(prefix + "/data/publish", body)
    assert r.status == 200, r.body
    return r.json()


def register(server, agent, project, needs, **extra):
    body = {"agent_id": agent, "project_id": project, "data_needs": needs, **extra}
    r = server.post("/api/v1/agents/register", body)
    assert r.status == 200, r.body
    return r.json()


def sse_gauge(server):
    metrics = server.get("/metrics").body
    [line] = [l for l in metrics.splitlines() if l.startswith("contex_sse_connections ")]
    return float(line.split()[1])


def detail(r):
    assert r.status == 422, (r.status, r.body)
    return r.json()["detail"]


# ---- publish (§3.3) ----------------------------------------------------------------------

def test_publish_shape_under_both_prefixes(core):
    project = uid("pub")
    for prefix in ("/api/v1", "/api"):
        r = core.post(prefix + "/data/publish",
                      {"project_id": project, "data_key": "tech_stack", "data": TECH,
                       "data_format": "json", "metadata": None})
        assert r.status == 200, r.body
        assert r.header("Content-Type") == "application/json"
        body = r.json()
        assert list(body) == ["status", "project_id", "data_key", "sequence", "changed",
                              "format", "node_count", "warnings"]
        assert body["status"] == "published" and body["project_id"] == project
        assert DIGITS.match(body["sequence"]) and body["format"] == "json"
        assert isinstance(body["node_count"], int) and body["node_count"] >= 1
        assert body["warnings"] == []
    assert body["sequence"] == "2"  # gap-free per-project sequence
    assert body["changed"] is False  # identical republish


def test_publish_unknown_format_hint_is_422_and_stores_nothing(core):
    project = uid("fmt")
    r = core.post("/api/v1/data/publish", {"project_id": project, "data_key": "notes",
                                          "data": "# Title\n\nSome text.", "data_format": "nonsense"})
    assert r.status == 422, r.body
    [error] = r.json()["detail"]
    assert error["type"] == "value_error" and error["loc"] == ["body", "data_format"]
    assert "unknown data_format 'nonsense'" in error["msg"]
    events = core.get(f"/api/v1/projects/{project}/events").json()
    assert events["events"] == [], events


def test_publish_hint_that_does_not_parse_warns_and_detects(core):
    body = publish(core, uid("fmt"), "notes", "# Title\n\nSome text.", data_format="json")
    assert body["status"] == "published" and body["changed"] is True
    assert body["format"] == "markdown" and body["warnings"], body


@pytest.mark.parametrize("payload, expected", [
    ({"project_id": "p", "data_key": "", "data": {}},
     {"detail": [{"type": "string_too_short", "loc": ["body", "data_key"],
                  "msg": "String should have at least 1 character", "input": "",
                  "ctx": {"min_length": 1}}]}),
    ({"project_id": 0, "data_key": "k", "data": 1},
     {"detail": [{"type": "string_type", "loc": ["body", "project_id"],
                  "msg": "Input should be a valid string", "input": 0}]}),
    ({"project_id": "p", "data_key": "a\u0001", "data": 1},
     {"detail": [{"type": "string_pattern_mismatch", "loc": ["body", "data_key"],
                  "msg": "String should match pattern '^[^\\x00-\\x1F\\x7F]*$'",
                  "input": "a\u0001", "ctx": {"pattern": "^[^\\x00-\\x1F\\x7F]*$"}}]}),
    ({"project_id": "p" * 256, "data_key": "k", "data": 1},
     {"detail": [{"type": "string_too_long", "loc": ["body", "project_id"],
                  "msg": "String should have at most 255 characters", "input": "p" * 256,
                  "ctx": {"max_length": 255}}]}),
    ({"data_key": "k"},
     {"detail": [{"type": "missing", "loc": ["body", "project_id"], "msg": "Field required",
                  "input": {"data_key": "k"}},
                 {"type": "missing", "loc": ["body", "data"], "msg": "Field required",
                  "input": {"data_key": "k"}}]}),
])
def test_publish_validation(core, payload, expected):
    r = core.post("/api/v1/data/publish", payload)
    assert r.status == 422
    assert r.json() == expected


def test_publish_body_errors(core):
    r = core.request("POST", "/api/v1/data/publish", raw=b"", headers={"Content-Type": "application/json"})
    assert detail(r) == [{"type": "missing", "loc": ["body"], "msg": "Field required", "input": None}]
    r = core.request("POST", "/api/v1/data/publish", raw=b'{"a":', headers={"Content-Type": "application/json"})
    [item] = detail(r)
    assert item["type"] == "json_invalid" and item["loc"][0] == "body" and item["input"] == {}
    assert item["msg"] == "JSON decode error" and "error" in item["ctx"]
    r = core.request("POST", "/api/v1/data/publish", raw=b"hello", headers={"Content-Type": "text/plain"})
    assert detail(r) == [{"type": "model_attributes_type", "loc": ["body"],
                          "msg": "Input should be a valid dictionary or object to extract fields from",
                          "input": "hello"}]


def test_publish_null_data_is_allowed(core):
    assert publish(core, uid("null"), "k", None)["status"] == "published"


# ---- batch publish (§3.4) ----------------------------------------------------------------

def test_batch_publish_envelope(core):
    project = uid("batch")
    r = core.post("/api/v1/batch/publish", [
        {"project_id": project, "data_key": "a", "data": {"x": 1}},
        {"project_id": project, "data_key": "b", "data": [1, 2]},
    ])
    assert r.status == 200, r.body
    body = r.json()
    assert list(body) == ["status", "total", "successful", "failed", "duration_ms", "results"]
    assert body["status"] == "completed" and body["total"] == 2
    assert body["successful"] == 2 and body["failed"] == 0
    assert isinstance(body["duration_ms"], (int, float))
    assert body["results"] == [
        {"status": "success", "project_id": project, "data_key": "a", "sequence": "1", "changed": True},
        {"status": "success", "project_id": project, "data_key": "b", "sequence": "2", "changed": True},
    ]


def test_batch_publish_invalid_item_publishes_nothing(core):
    project = uid("batchbad")
    r = core.post("/api/batch/publish", [
        {"project_id": project, "data_key": "a", "data": 1},
        {"project_id": project, "data_key": "", "data": 1},
    ])
    [item] = detail(r)
    assert item["loc"] == ["body", 1, "data_key"] and item["type"] == "string_too_short"
    events = core.get(f"/api/v1/projects/{project}/events").json()
    assert events == {"events": [], "count": 0}


def test_batch_limits(core):
    r = core.post("/api/v1/batch/publish", [])
    assert detail(r)[0]["type"] == "too_short"
    items = [{"project_id": "p", "data_key": "k", "data": 1}] * 101
    [item] = detail(core.post("/api/v1/batch/publish", items))
    assert item["type"] == "too_long" and item["loc"] == ["body"]
    assert item["ctx"] == {"field_type": "List", "max_length": 100, "actual_length": 101}
    assert detail(core.post("/api/v1/batch/publish", {"a": 1}))[0]["type"] == "list_type"


# ---- register (§3.5-3.6) -----------------------------------------------------------------

def test_register_shape(core):
    project, agent = uid("reg"), uid("agent")
    publish(core, project, "tech_stack", TECH)
    body = register(core, agent, project, ["frontend framework React", "unrelated zebra", "frontend framework React"],
                    notification_method="redis", webhook_url=None, webhook_secret=None,
                    last_seen_sequence="0", response_format="json")
    assert list(body) == ["status", "agent_id", "project_id", "caught_up_events", "current_sequence",
                          "matched_needs", "notification_channel", "context_url", "stream_url"]
    assert body["status"] == "registered" and body["agent_id"] == agent
    assert body["project_id"] == project and body["current_sequence"] == "1"
    assert isinstance(body["caught_up_events"], int) and body["caught_up_events"] >= 0
    assert list(body["matched_needs"]) == ["frontend framework React", "unrelated zebra"]
    assert all(isinstance(v, int) for v in body["matched_needs"].values())
    assert body["matched_needs"]["frontend framework React"] >= 1
    assert body["notification_channel"] == f"agent:{agent}:updates"
    assert body["context_url"] == f"/api/v1/agents/{agent}/context"
    assert body["stream_url"] == f"/api/v1/agents/{agent}/stream"


def test_register_custom_channel_and_reregistration(core):
    project, agent = uid("chan"), uid("agent")
    body = register(core, agent, project, ["x"], notification_channel=f"agent:{agent}:mine")
    assert body["notification_channel"] == f"agent:{agent}:mine"
    body = register(core, agent, project, ["y"])
    assert body["matched_needs"] == {"y": 0}
    assert core.get(f"/api/v1/agents/{agent}").json()["needs"] == ["y"]


def webhook_body(**extra):
    return {"agent_id": "a", "project_id": "p", "data_needs": ["x"], **extra}


@pytest.mark.parametrize("extra, loc, type_", [
    ({"notification_method": "email"}, ["body", "notification_method"], "literal_error"),
    ({"notification_method": "webhook"}, ["body", "webhook_url"], "value_error"),
    ({"webhook_url": "not a url"}, ["body", "webhook_url"], "url_parsing"),
    ({"webhook_url": "ftp://example.com/x"}, ["body", "webhook_url"], "url_scheme"),
    ({"webhook_url": "http://e.com/" + "a" * 2100}, ["body", "webhook_url"], "url_too_long"),
    ({"notification_channel": "agent:other:updates"}, ["body", "notification_channel"], "value_error"),
    ({"last_seen_sequence": "abc"}, ["body", "last_seen_sequence"], "value_error"),
    ({"response_format": "html"}, ["body", "response_format"], "literal_error"),
    ({"webhook_secret": ""}, ["body", "webhook_secret"], "string_too_short"),
    ({"data_needs": [""]}, ["body", "data_needs", 0], "string_too_short"),
    ({"data_needs": ["x" * 2001]}, ["body", "data_needs", 0], "string_too_long"),
    ({"data_needs": [f"n{i}" for i in range(101)]}, ["body", "data_needs"], "too_long"),
    ({"data_needs": "x"}, ["body", "data_needs"], "list_type"),
])
def test_register_validation(core, extra, loc, type_):
    [item] = detail(core.post("/api/v1/agents/register", webhook_body(**extra)))
    assert item["loc"] == loc and item["type"] == type_, item


def test_register_exact_messages(core):
    [item] = detail(core.post("/api/v1/agents/register", webhook_body(notification_method="webhook")))
    assert item["msg"] == "Value error, webhook_url is required when notification_method='webhook'"
    [item] = detail(core.post("/api/v1/agents/register", webhook_body(webhook_url="nope")))
    assert item == {"type": "url_parsing", "loc": ["body", "webhook_url"],
                    "msg": "Input should be a valid URL, relative URL without a base",
                    "input": "nope", "ctx": {"error": "relative URL without a base"}}
    [item] = detail(core.post("/api/v1/agents/register", webhook_body(notification_method="email")))
    assert item["msg"] == "Input should be 'redis' or 'webhook'"
    assert item["ctx"] == {"expected": "'redis' or 'webhook'"}
    [item] = detail(core.post("/api/v1/agents/register", webhook_body(last_seen_sequence="abc")))
    assert item["msg"] == "Value error, last_seen_sequence must be a decimal integer"


def test_register_sequence_forms(core):
    for form in ("0", "", None, "1767710171000-0", 3, "12"):
        register(core, uid("seq"), uid("seqp"), [], last_seen_sequence=form)


def test_batch_register_envelope(core):
    project = uid("breg")
    a, b = uid("a"), uid("b")
    r = core.post("/api/v1/batch/register", [
        {"agent_id": a, "project_id": project, "data_needs": ["x"]},
        {"agent_id": b, "project_id": project, "data_needs": []},
    ])
    assert r.status == 200, r.body
    body = r.json()
    assert body["status"] == "completed" and body["successful"] == 2 and body["failed"] == 0
    assert body["results"][0] == {"status": "success", "agent_id": a, "project_id": project,
                                  "matched_needs": {"x": 0}, "notification_channel": f"agent:{a}:updates"}
    [item] = detail(core.post("/api/v1/batch/register", [{"agent_id": a, "project_id": project}]))
    assert item["loc"] == ["body", 0, "data_needs"] and item["type"] == "missing"


# ---- agents (§3.7-3.8) -------------------------------------------------------------------

def test_agents_list_get_status_and_unregister(core):
    project = uid("agents")
    publish(core, project, "tech_stack", TECH)
    b, a = "b-" + uid("x"), "a-" + uid("x")
    register(core, b, project, ["frontend React"])
    register(core, a, project, ["database PostgreSQL"], notification_method="webhook",
             webhook_url="https://agent.example/hook", webhook_secret="s3cret")

    listed = core.get(f"/api/v1/agents?project_id={project}").json()
    assert listed == {"agents": [a, b], "count": 2}
    assert core.get(f"/api/agents/?project_id={uid('none')}").json() == {"agents": [], "count": 0}
    everyone = core.get("/api/v1/agents").json()
    assert {a, b} <= set(everyone["agents"]) and everyone["count"] == len(everyone["agents"])

    agent = core.get(f"/api/v1/agents/{a}").json()
    assert list(agent) == ["agent_id", "project_id", "needs", "notification_method", "response_format",
                           "channel", "webhook_url", "has_webhook_secret", "data_keys", "node_keys",
                           "last_sequence", "last_seen", "created_at", "updated_at"]
    assert agent["has_webhook_secret"] is True and "webhook_secret" not in agent
    assert agent["webhook_url"] == "https://agent.example/hook"
    assert agent["data_keys"] == ["tech_stack"] and DIGITS.match(agent["last_sequence"])

    status = core.get(f"/api/v1/agents/{b}/status").json()
    assert list(status) == ["agent_id", "project_id", "status", "notification_method", "last_sequence",
                            "current_sequence", "pending_deliveries", "failed_deliveries",
                            "sse_connections", "last_seen"]
    assert status["agent_id"] == b and status["current_sequence"] == "1"

    r = core.delete(f"/api/v1/agents/{b}")
    assert r.status == 200 and r.json() == {"status": "unregistered", "agent_id": b}
    for path in (f"/api/v1/agents/{b}", f"/api/v1/agents/{b}/status", f"/api/v1/agents/{b}/context"):
        r = core.get(path)
        assert r.status == 404 and r.json() == {"detail": "Agent not found"}, path
    r = core.delete(f"/api/agents/{b}")
    assert r.status == 404 and r.json() == {"detail": "Agent not found"}


def test_agent_ids_with_slashes_and_literal_segments(core):
    project = uid("odd")
    for agent in ("register", "team/bot one"):
        register(core, agent + uid(""), project, ["x"])
    r = core.get("/api/v1/agents/register")
    assert r.status == 404 and r.json() == {"detail": "Agent not found"}
    agent = "team/bot " + uid("z")
    body = register(core, agent, project, ["x"])
    encoded = urllib.parse.quote(agent, safe="")
    assert body["context_url"] == f"/api/v1/agents/{encoded}/context"
    assert core.get(f"/api/v1/agents/{encoded}").json()["agent_id"] == agent


def test_agent_context_json_and_toon(core):
    project, agent = uid("ctx"), uid("agent")
    publish(core, project, "tech_stack", TECH)
    register(core, agent, project, ["frontend framework React", "nothing zebra"])
    r = core.get(f"/api/v1/agents/{agent}/context")
    assert r.status == 200
    body = r.json()
    assert list(body) == ["agent_id", "project_id", "sequence", "format", "context", "matched_needs"]
    assert body["sequence"] == "1" and body["format"] == "json"
    assert list(body["context"]) == ["frontend framework React", "nothing zebra"]
    [match] = body["context"]["frontend framework React"]
    assert list(match) == MATCH_KEYS and match["data_key"] == "tech_stack"
    assert body["matched_needs"] == {"frontend framework React": 1, "nothing zebra": 0}
    r = core.get(f"/api/v1/agents/{agent}/context?format=toon")
    assert r.status == 200 and r.header("Content-Type") == "text/plain; charset=utf-8"
    assert r.body.startswith(f"agent_id: {agent}\nproject_id: {project}\n")
    [item] = detail(core.get(f"/api/v1/agents/{agent}/context?format=xml"))
    assert item["type"] == "literal_error" and item["loc"] == ["query", "format"]


# ---- query (§3.10) -----------------------------------------------------------------------

def test_query_shape_and_formats(core):
    project = uid("q")
    publish(core, project, "tech_stack", TECH)
    r = core.post(f"/api/v1/projects/{project}/query", {"query": "frontend React TypeScript"})
    assert r.status == 200, r.body
    body = r.json()
    assert list(body) == ["query", "matches", "total_matches"]
    assert body["query"] == "frontend React TypeScript"
    assert body["total_matches"] == len(body["matches"]) >= 1
    match = body["matches"][0]
    assert list(match) == MATCH_KEYS
    assert match["data_key"] == "tech_stack" and match["node_key"].startswith("tech_stack")
    assert match["match_type"] in ("vector", "keyword", "both")
    assert isinstance(match["data"], dict) and isinstance(match["token_count"], int)
    assert DIGITS.match(match["sequence"]) and match["data_format"] == "json"

    r = core.post(f"/api/projects/{project}/query", {"query": "frontend React", "response_format": "toon"})
    assert r.status == 200 and r.header("Content-Type") == "text/plain; charset=utf-8"
    assert r.body.startswith("query: frontend React\nmatches[")
    r = core.post(f"/api/v1/projects/{project}/query", {"query": "frontend React", "response_format": "yaml"})
    assert r.header("Content-Type") == "application/json"


def test_query_unknown_project_is_empty(core):
    r = core.post(f"/api/v1/projects/{uid('none')}/query", {"query": "anything"})
    assert r.status == 200 and r.json() == {"query": "anything", "matches": [], "total_matches": 0}


def test_query_limits_results(core):
    project = uid("qk")
    publish(core, project, "items", [{"name": f"widget {i}", "kind": "widget"} for i in range(8)])
    r = core.post(f"/api/v1/projects/{project}/query", {"query": "widget", "top_k": 2, "threshold": 0})
    assert r.status == 200 and len(r.json()["matches"]) <= 2
    r = core.post(f"/api/v1/projects/{project}/query", {"query": "widget", "max_results": 3, "threshold": 0})
    assert len(r.json()["matches"]) <= 3


@pytest.mark.parametrize("payload, loc, type_", [
    ({}, ["body", "query"], "missing"),
    ({"query": ""}, ["body", "query"], "string_too_short"),
    ({"query": "x" * 10001}, ["body", "query"], "string_too_long"),
    ({"query": "q", "top_k": 0}, ["body", "top_k"], "greater_than_equal"),
    ({"query": "q", "top_k": 101}, ["body", "top_k"], "less_than_equal"),
    ({"query": "q", "top_k": 5.5}, ["body", "top_k"], "int_from_float"),
    ({"query": "q", "top_k": "x"}, ["body", "top_k"], "int_parsing"),
    ({"query": "q", "max_results": 101}, ["body", "max_results"], "less_than_equal"),
    ({"query": "q", "threshold": 1.5}, ["body", "threshold"], "less_than_equal"),
    ({"query": "q", "threshold": -0.1}, ["body", "threshold"], "greater_than_equal"),
    ({"query": "q", "max_tokens": 999}, ["body", "max_tokens"], "greater_than_equal"),
    ({"query": "q", "max_tokens": 128001}, ["body", "max_tokens"], "less_than_equal"),
    ({"query": "q", "response_format": "html"}, ["body", "response_format"], "literal_error"),
])
def test_query_validation(core, payload, loc, type_):
    [item] = detail(core.post("/api/v1/projects/p/query", payload))
    assert item["loc"] == loc and item["type"] == type_, item


def test_query_coercions_accepted(core):
    r = core.post("/api/v1/projects/p/query", {"query": "q", "top_k": "5", "threshold": "0.4", "max_tokens": 2000.0})
    assert r.status == 200, r.body


# ---- events (§3.11) ----------------------------------------------------------------------

def test_events(core):
    project = uid("ev")
    publish(core, project, "tech_stack", {"frontend": "React"})
    publish(core, project, "notes", "hello", event_type="note_written")
    publish(core, project, "tech_stack", {"frontend": "React"})
    body = core.get(f"/api/v1/projects/{project}/events").json()
    assert body["count"] == 3 and [e["sequence"] for e in body["events"]] == ["1", "2", "3"]
    first = body["events"][0]
    assert list(first) == ["sequence", "event_type", "data", "data_key", "changed", "created_at"]
    assert first["event_type"] == "tech_stack_updated" and first["data"] == {"tech_stack": {"frontend": "React"}}
    assert first["changed"] is True and ISO.match(first["created_at"])
    assert body["events"][2]["changed"] is False
    assert body["events"][1]["event_type"] == "note_written"

    since = core.get(f"/api/projects/{project}/events?since=1&count=1").json()
    assert [e["sequence"] for e in since["events"]] == ["2"] and since["count"] == 1
    legacy = core.get(f"/api/v1/projects/{project}/events?since=1767710171000-0").json()
    assert legacy["count"] == 3
    by_key = core.get(f"/api/v1/projects/{project}/events?data_key=notes").json()
    assert [e["data_key"] for e in by_key["events"]] == ["notes"]
    by_type = core.get(f"/api/v1/projects/{project}/events?event_type=tech_stack_updated").json()
    assert by_type["count"] == 2
    assert core.get(f"/api/v1/projects/{uid('none')}/events").json() == {"events": [], "count": 0}


@pytest.mark.parametrize("query, loc, type_", [
    ("since=abc", ["query", "since"], "int_parsing"),
    ("count=0", ["query", "count"], "greater_than_equal"),
    ("count=1001", ["query", "count"], "less_than_equal"),
    ("count=x", ["query", "count"], "int_parsing"),
])
def test_events_validation(core, query, loc, type_):
    [item] = detail(core.get(f"/api/v1/projects/p/events?{query}"))
    assert item["loc"] == loc and item["type"] == type_


# ---- project data, export and import (§3.12-3.13) ----------------------------------------

def test_project_data_listing(core):
    project = uid("data")
    publish(core, project, "tech_stack", {"frontend": "React"})
    publish(core, project, "api_specs", {"GET /users": "list users"})
    items = core.get(f"/api/v1/projects/{project}/data").json()
    assert [i["data_key"] for i in items] == sorted(i["data_key"] for i in items)
    item = next(i for i in items if i["data_key"] == "tech_stack")
    assert list(item) == ["data_key", "node_key", "node_path", "node_type", "description", "data",
                          "data_format", "is_structured", "metadata", "sequence", "toon"]
    assert item["data"] == {"frontend": "React"} and item["is_structured"] is True
    assert item["toon"] == "frontend: React"
    keys = core.get(f"/api/v1/projects/{project}/data?include_content=false").json()
    assert keys == {"project_id": project, "data_keys": ["api_specs", "tech_stack"], "count": 2}
    only = core.get(f"/api/v1/projects/{project}/data?data_key=api_specs").json()
    assert {i["data_key"] for i in only} == {"api_specs"}
    [e] = detail(core.get(f"/api/v1/projects/{project}/data?format=csv"))
    assert e["loc"] == ["query", "format"] and e["type"] == "literal_error"


def test_export_and_import_round_trip(core):
    source, target = uid("src"), uid("dst")
    publish(core, source, "tech_stack", TECH)
    publish(core, source, "notes", "plain words")
    agent = uid("agent")
    register(core, agent, source, ["frontend React"])

    r = core.get(f"/api/v1/projects/{source}/data?include_events=true&include_embeddings=true&include_agents=true")
    assert r.status == 200
    assert r.header("Content-Disposition") == f'attachment; filename="{source}-export.json"'
    assert r.body.startswith('{\n  "project_id": ')  # 2-space indented JSON
    doc = r.json()
    assert doc["project_id"] == source and doc["version"] == "1.1"
    assert list(doc["data"]) == ["events", "embeddings", "agents"]
    assert [e["sequence"] for e in doc["data"]["events"]] == ["1", "2"]

    t = core.get(f"/api/v1/projects/{source}/data?include_events=true&format=toon")
    assert t.header("Content-Type") == "text/plain; charset=utf-8"
    assert t.header("Content-Disposition") == f'attachment; filename="{source}-export.toon"'

    imp = f"/api/v1/projects/{target}/import"
    r = core.post(imp + "?format=xml", raw=b"{}")
    assert r.status == 400 and r.json() == {"detail": "Format must be 'json' or 'toon'"}
    r = core.request("POST", imp, raw=b"{not json", headers={"Content-Type": "text/plain"})
    assert r.status == 400 and r.json()["detail"].startswith("Invalid document: ")
    r = core.request("POST", imp, raw=json.dumps({"version": "1.1", "data": {}}).encode())
    assert r.status == 400
    assert r.json() == {"detail": "Data validation failed",
                        "validation": {"valid": False, "errors": ["Missing required field: project_id"],
                                       "warnings": [], "project_id": None}}
    r = core.request("POST", imp, raw=json.dumps(doc).encode())
    assert r.status == 400
    assert r.json() == {"detail": f"Project ID mismatch: URL has '{target}' but data has '{source}'"}
    r = core.request("POST", f"/api/v1/projects/{source}/import", raw=json.dumps(doc).encode())
    assert r.status == 400
    assert r.json() == {"detail": f"Project {source} already has data. Use overwrite=True to replace."}

    doc["project_id"] = target
    for a in doc["data"]["agents"]:
        a["agent_id"] = uid("imported")
        a["data"]["project_id"] = target
        a["data"]["notification_channel"] = f"agent:{a['agent_id']}:updates"
    raw = json.dumps(doc).encode()
    r = core.request("POST", imp + "?validate_only=true", raw=raw, headers={"Content-Type": "application/octet-stream"})
    assert r.status == 200, r.body
    assert r.json() == {"status": "success",
                        "validation": {"valid": True, "errors": [], "warnings": [], "project_id": target},
                        "message": "Validation passed (no data imported)"}
    assert core.get(f"/api/v1/projects/{target}/events").json()["count"] == 0
    r = core.request("POST", imp, raw=raw)
    assert r.status == 200, r.body
    body = r.json()
    assert list(body) == ["status", "stats", "validation"]
    assert body["stats"]["project_id"] == target and body["stats"]["events_imported"] == 2
    assert body["stats"]["agents_imported"] == 1
    events = core.get(f"/api/v1/projects/{target}/events").json()
    assert [e["sequence"] for e in events["events"]] == ["1", "2"]
    q = core.post(f"/api/v1/projects/{target}/query", {"query": "frontend React TypeScript"}).json()
    assert q["matches"] and q["matches"][0]["data_key"] == "tech_stack"
    r = core.request("POST", imp + "?overwrite=true", raw=raw)
    assert r.status == 200, r.body


# ---- SSE stream (§3.9) -------------------------------------------------------------------

def test_stream_initial_context_updates_and_resume(core):
    project, agent = uid("sse"), uid("agent")
    publish(core, project, "tech_stack", TECH)
    register(core, agent, project, ["database configuration PostgreSQL"])
    path = f"/api/v1/agents/{agent}/stream"

    s = SseClient(core, path)
    assert s.status == 200
    assert s.headers["Content-Type"] == "text/event-stream"
    assert s.headers["Cache-Control"] == "no-cache"
    frame = s.next_frame()
    assert frame["event"] == "initial_context" and frame["id"] == "1"
    assert sse_gauge(core) >= 1
    assert frame["data"]["type"] == "initial_context" and frame["data"]["agent_id"] == agent
    publish(core, project, "db_config", {"database": "PostgreSQL", "host": "db.internal", "pool": 10})
    frame = s.next_frame()
    assert frame["event"] == "data_update" and frame["id"] == "2"
    update = frame["data"]
    assert update["data_key"] == "db_config" and update["sequence"] == "2"
    assert list(update) == ["type", "agent_id", "project_id", "sequence", "data_key", "format", "changed",
                            "data", "matches", "node_changes"]
    s.close()

    # Missed while disconnected: resumed from Last-Event-ID, nothing lost.
    publish(core, project, "db_config", {"database": "PostgreSQL", "host": "db2.internal", "pool": 20})
    s = SseClient(core, path, headers={"Last-Event-ID": "2"})
    frame = s.next_frame()
    assert frame["event"] == "data_update" and frame["id"] == "3"
    s.close()
    s = SseClient(core, path + "?last_event_id=1")
    assert [s.next_frame()["id"], s.next_frame()["id"]] == ["2", "3"]

    core.delete(f"/api/v1/agents/{agent}")
    frame = s.next_frame()
    assert frame["event"] == "unregistered"
    assert frame["data"] == {"type": "unregistered", "agent_id": agent}
    assert s.next_frame() is None  # closed after the unregistered frame
    s.close()


def test_stream_unknown_agent_is_json_404(core):
    s = SseClient(core, f"/api/v1/agents/{uid('ghost')}/stream")
    assert s.status == 404
    assert s.headers["Content-Type"] == "application/json"
    assert json.loads(s.body()) == {"detail": "Agent not found"}
    s.close()


def test_unrelated_publish_notifies_nobody(core):
    project, agent = uid("quiet"), uid("agent")
    register(core, agent, project, ["database configuration"])
    s = SseClient(core, f"/api/v1/agents/{agent}/stream")
    assert s.next_frame()["event"] == "initial_context"
    publish(core, project, "recipes", {"dessert": "chocolate cake with strawberries"})
    publish(core, project, "db", {"database configuration": "PostgreSQL 15 primary"})
    frame = s.next_frame()
    assert frame["event"] == "data_update" and frame["data"]["data_key"] == "db"
    s.close()


def test_toon_agent_messages_carry_toon_payloads(core):
    project, agent = uid("toon"), uid("agent")
    publish(core, project, "tech_stack", TECH)
    register(core, agent, project, ["frontend React"], response_format="toon")
    s = SseClient(core, f"/api/v1/agents/{agent}/stream")
    frame = s.next_frame()
    assert frame["event"] == "initial_context"
    message = frame["data"]
    assert message["format"] == "toon" and isinstance(message["context"], str)
    assert "frontend React" in message["context"]
    publish(core, project, "tech_stack", {**TECH, "frontend": "React 19 with TypeScript"})
    update = s.next_frame()["data"]
    assert update["type"] == "data_update" and update["format"] == "toon"
    assert isinstance(update["data"], str) and isinstance(update["matches"], str)
    s.close()
    assert core.get(f"/api/v1/agents/{agent}").json()["response_format"] == "toon"


def test_batch_register_item_rules_use_item_locations(core):
    r = core.post("/api/v1/batch/register", [
        {"agent_id": uid("a"), "project_id": "p", "data_needs": []},
        {"agent_id": uid("b"), "project_id": "p", "data_needs": [], "notification_method": "webhook"},
    ])
    [item] = detail(r)
    assert item["loc"] == ["body", 1, "webhook_url"] and item["type"] == "value_error"


def test_stream_announces_retry_first(core):
    project, agent = uid("retry"), uid("agent")
    register(core, agent, project, ["x"])
    s = SseClient(core, f"/api/v1/agents/{agent}/stream")
    assert s.response.readline() == b"retry: 2000\n"
    assert s.response.readline() == b"\n"
    frame = s.next_frame()
    assert frame["event"] == "initial_context" and frame["id"] == "0"
    assert frame["data"]["sequence"] == "0" and frame["data"]["context"] == {"x": []}
    s.close()


def test_node_limit_is_a_422_at_body_data(make_server):
    server = make_server({"EMBEDDING_PROVIDER": "lexical", "MAX_NODES_PER_KEY": "5"})
    data = [{"name": f"item {i}", "kind": "widget"} for i in range(20)]
    [item] = detail(server.post("/api/v1/data/publish", {"project_id": "p", "data_key": "many", "data": data}))
    assert item["type"] == "value_error" and item["loc"] == ["body", "data"] and item["input"] == data
    assert re.fullmatch(r"data produces \d+ nodes; the limit is 5", item["ctx"]["error"]), item
    assert item["msg"] == "Value error, " + item["ctx"]["error"]
    assert server.get("/api/v1/projects/p/events").json()["count"] == 0
    r = server.post("/api/v1/batch/publish", [{"project_id": "p", "data_key": "many", "data": data},
                                             {"project_id": "p", "data_key": "one", "data": {"a": 1}}])
    body = r.json()
    assert r.status == 200 and body["successful"] == 1 and body["failed"] == 1
    assert body["results"][0]["status"] == "failed"
    assert body["results"][0]["error"].startswith("data produces ")
    assert body["results"][1] == {"status": "success", "project_id": "p", "data_key": "one",
                                  "sequence": "1", "changed": True}


def test_redis_subscriber_receives_catch_up_initial_context_and_updates(core):
    url = core.env.get("REDIS_URL")
    if not url:
        pytest.skip("this backend runs without Redis")
    import redis

    project, agent = uid("redis"), uid("agent")
    pubsub = redis.Redis.from_url(url).pubsub()
    pubsub.subscribe(f"agent:{agent}:updates")
    confirmed = pubsub.get_message(timeout=5)  # the server's subscribe confirmation
    assert confirmed and confirmed["type"] == "subscribe", confirmed

    def next_message():
        end = time.time() + 10
        while time.time() < end:
            m = pubsub.get_message(timeout=0.5)
            if m and m["type"] == "message":
                return json.loads(m["data"])
        raise AssertionError("no Redis message")

    publish(core, project, "tech_stack", TECH)
    publish(core, project, "db_config", {"database": "PostgreSQL", "host": "db.internal"})
    body = register(core, agent, project, ["database configuration PostgreSQL"], last_seen_sequence="0")
    events = [next_message() for _ in range(body["caught_up_events"])]
    for e in events:
        assert list(e) == ["type", "agent_id", "project_id", "sequence", "event_type", "data_key", "data"]
        assert e["type"] == "event" and e["agent_id"] == agent
    assert [e["sequence"] for e in events] == sorted((e["sequence"] for e in events), key=int)
    initial = next_message()
    assert list(initial) == ["type", "agent_id", "project_id", "sequence", "format", "context"]
    assert initial["type"] == "initial_context" and initial["sequence"] == "2"
    publish(core, project, "db_config", {"database": "PostgreSQL", "host": "db2.internal"})
    update = next_message()
    assert update["type"] == "data_update" and update["data_key"] == "db_config" and update["sequence"] == "3"
    assert update["data"] == {"database": "PostgreSQL", "host": "db2.internal"}
    pubsub.close()


# ---- persistence and replicas (issue 7 "Done when") ---------------------------------------

def redis_messages(pubsub, seconds):
    """Every message that arrives within `seconds` (to prove that nothing else arrives)."""
    got, end = [], time.time() + seconds
    while time.time() < end:
        m = pubsub.get_message(timeout=0.2)
        if m and m["type"] == "message":
            got.append(json.loads(m["data"]))
    return got


def test_agents_survive_a_restart(make_server, tmp_path):
    env = {"EMBEDDING_PROVIDER": "lexical", "CONTEX_DATA_DIR": str(tmp_path / "data")}
    first = make_server(env)
    project, agent = uid("persist"), uid("agent")
    register(first, agent, project, ["database configuration"])
    assert first.terminate() == 0
    second = make_server(env)
    assert second.get(f"/api/v1/agents?project_id={project}").json() == {"agents": [agent], "count": 1}
    s = SseClient(second, f"/api/v1/agents/{agent}/stream")
    assert s.next_frame()["event"] == "initial_context"
    publish(second, project, "db", {"database configuration": "PostgreSQL primary"})
    frame = s.next_frame()
    assert frame["event"] == "data_update" and frame["data"]["data_key"] == "db"
    s.close()


def test_two_replicas_send_exactly_one_update(make_server):
    import redis

    env = {"EMBEDDING_PROVIDER": "lexical", **backend_env("postgres")}
    a, b = make_server(env), make_server(env)
    project, agent = uid("replicas"), uid("agent")
    pubsub = redis.Redis.from_url(env["REDIS_URL"]).pubsub()
    pubsub.subscribe(f"agent:{agent}:updates")
    assert pubsub.get_message(timeout=5)["type"] == "subscribe"
    register(a, agent, project, ["database configuration"])
    assert [m["type"] for m in redis_messages(pubsub, 2)] == ["initial_context"]
    publish(b, project, "db", {"database configuration": "PostgreSQL primary"})
    got = redis_messages(pubsub, 3)
    assert [(m["type"], m["data_key"]) for m in got] == [("data_update", "db")], got
    pubsub.close()


def test_sse_stream_on_another_replica_gets_the_update_once(make_server):
    """engine.md §6.4: a stream open on replica B receives what replica A committed (via
    LISTEN/NOTIFY), exactly once, and the unregistered frame when A unregisters it."""
    env = {"EMBEDDING_PROVIDER": "lexical", **backend_env("postgres")}
    a, b = make_server(env), make_server(env)
    project, agent = uid("replicas-sse"), uid("agent")
    register(a, agent, project, ["database configuration"])
    stream = SseClient(b, f"/api/v1/agents/{agent}/stream")
    assert stream.next_frame()["event"] == "initial_context"
    published = publish(a, project, "db", {"database configuration": "PostgreSQL primary"})
    frame = stream.next_frame()
    assert frame["event"] == "data_update" and frame["data"]["data_key"] == "db"
    assert frame["id"] == published["sequence"]
    publish(a, project, "db2", {"database configuration": "PostgreSQL replica"})
    second = stream.next_frame()
    assert second["event"] == "data_update" and second["data"]["data_key"] == "db2"  # no repeat
    assert a.delete(f"/api/v1/agents/{agent}").status == 200
    assert stream.next_frame()["event"] == "unregistered"
    stream.close()
