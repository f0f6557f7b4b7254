"""The contex-python 0.1.8 compatibility profile (api.md §7): the requests the SDK sends,
exactly as it sends them, and each numbered behaviour of §7.3."""
import re

import pytest

from core_helpers import SDK_HEADERS, free_redis_url, sdk, start_core_server, uid

DIGITS = re.compile(r"^\d+$")
YAML_TEXT = "\n        frontend: React\n        backend: FastAPI\n        database: PostgreSQL\n        "


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def api(request):
    s = start_core_server(request.param)
    yield s
    s.close()


def sdk_publish(server, project, key, data, data_format="json"):
    return sdk(server, "POST", "/api/v1/data/publish",
               {"project_id": project, "data_key": key, "data": data, "data_format": data_format,
                "metadata": None})


def sdk_register(server, agent, project, needs, last_seen="0"):
    return sdk(server, "POST", "/api/v1/agents/register",
               {"agent_id": agent, "project_id": project, "data_needs": needs,
                "notification_method": "redis", "webhook_url": None, "webhook_secret": None,
                "last_seen_sequence": last_seen, "response_format": "json"})


def sdk_query(server, project, query, max_results=10):
    return sdk(server, "POST", f"/api/v1/projects/{project}/query",
               {"project_id": project, "query": query, "max_results": max_results, "threshold": None})


def assert_published(r, key):
    assert r.status == 200, r.body
    body = r.json()
    assert body["status"] == "published" and body["data_key"] == key
    assert isinstance(body["sequence"], str) and DIGITS.match(body["sequence"])
    return body


def assert_registration(r, agent, project):
    """The seven SDK fields with the JSON types of §7.2 (item 6)."""
    assert r.status == 200, r.body
    body = r.json()
    assert body["status"] == "registered"
    assert body["agent_id"] == agent and body["project_id"] == project
    assert isinstance(body["caught_up_events"], int) and not isinstance(body["caught_up_events"], bool)
    assert isinstance(body["current_sequence"], str) and DIGITS.match(body["current_sequence"])
    assert isinstance(body["matched_needs"], dict)
    for need, count in body["matched_needs"].items():
        assert isinstance(need, str) and isinstance(count, int) and not isinstance(count, bool)
    assert isinstance(body["notification_channel"], str)
    return body


def assert_query_response(r, query):
    """Builds the SDK QueryResponse (item 12)."""
    assert r.status == 200, r.body
    assert r.header("Content-Type") == "application/json"
    body = r.json()
    assert body["query"] == query
    assert isinstance(body["matches"], list) and body["total_matches"] == len(body["matches"])
    for m in body["matches"]:
        assert isinstance(m["data_key"], str)
        assert isinstance(m["similarity"], (int, float))
        assert isinstance(m["data"], dict)
        assert isinstance(m.get("description", ""), str)
        assert isinstance(m["token_count"], int) and isinstance(m["preview"], str)
    return body


# 1
def test_item01_health_public(api):
    r = api.get("/health")
    assert r.status == 200 and r.json()["status"] == "healthy" and "version" in r.json()
    assert sdk(api, "GET", "/api/v1/health").status == 200
    assert sdk(api, "GET", "/api/v1/health/ready").status == 200


# 2
def test_item02_publish_json(api):
    assert_published(sdk_publish(api, uid("sdk"), "tech_stack", {"frontend": "React"}), "tech_stack")


# 3
def test_item03_publish_indented_yaml(api):
    assert_published(sdk_publish(api, uid("sdk"), "config", YAML_TEXT, "yaml"), "config")


# 4
def test_item04_publish_text(api):
    assert_published(sdk_publish(api, uid("sdk"), "readme", "# My Project\n\nThis is a test project.", "text"),
                     "readme")


# 5
def test_item05_several_keys_in_one_project(api):
    project = uid("sdk")
    assert_published(sdk_publish(api, project, "tech_stack", {"frontend": "React", "backend": "FastAPI"}), "tech_stack")
    assert_published(sdk_publish(api, project, "event_model", ["UserCreated", "OrderPlaced"]), "event_model")
    assert_published(sdk_publish(api, project, "api_specs", {"GET /users": "List users"}), "api_specs")
    keys = api.get(f"/api/v1/projects/{project}/data?include_content=false").json()
    assert keys["data_keys"] == ["api_specs", "event_model", "tech_stack"]


# 6, 8
def test_item06_08_registration_fields(api):
    project, agent = uid("sdk"), uid("agent")
    sdk_publish(api, project, "tech_stack", {"frontend": "React"})
    body = assert_registration(sdk_register(api, agent, project, ["tech stack", "frontend"]), agent, project)
    assert body["notification_channel"] is not None and agent in body["notification_channel"]


# 7
def test_item07_matched_needs_on_unused_project(api):
    agent, project = uid("agent"), uid("never-used")
    body = assert_registration(sdk_register(api, agent, project, ["anything"]), agent, project)
    assert body["matched_needs"] == {} or all(v == 0 for v in body["matched_needs"].values())
    assert isinstance(sum(body["matched_needs"].values()), int)


# 9
def test_item09_catch_up_after_two_publishes(api):
    project, agent = uid("sdk"), uid("agent")
    sdk_publish(api, project, "tech_stack", {"frontend": "React"})
    sdk_publish(api, project, "event_model", {"events": ["UserCreated"]})
    body = assert_registration(sdk_register(api, agent, project, ["frontend React", "events"], "0"), agent, project)
    assert body["caught_up_events"] >= 0
    assert int(body["current_sequence"], 10) >= 0


# 10
def test_item10_unregister(api):
    project, agent = uid("sdk"), uid("agent")
    sdk_register(api, agent, project, ["x"])
    r = sdk(api, "DELETE", f"/api/v1/agents/{agent}")
    assert r.status == 200 and r.json() == {"status": "unregistered", "agent_id": agent}
    r = sdk(api, "DELETE", "/api/v1/agents/nonexistent-agent-xyz")
    assert r.status == 404 and isinstance(r.json()["detail"], str)


# 11
def test_item11_empty_data_key_rejected(api):
    r = sdk_publish(api, uid("sdk"), "", {"a": 1})
    assert r.status == 422 and isinstance(r.json()["detail"], list)


# 12
def test_item12_query_response(api):
    project = uid("sdk")
    sdk_publish(api, project, "tech_stack", {"frontend": "React", "backend": "FastAPI", "database": "PostgreSQL"})
    body = assert_query_response(sdk_query(api, project, "What frontend framework? React"),
                                 "What frontend framework? React")
    assert body["matches"], body
    assert body["matches"][0]["data_key"] == "tech_stack" and body["matches"][0]["similarity"] > 0
    empty = assert_query_response(sdk_query(api, uid("never-used"), "anything"), "anything")
    assert empty["total_matches"] == 0 and empty["matches"] == []


# 13 (async client flow)
def test_item13_full_flow(api):
    project, agent = uid("flow"), uid("agent")
    assert_published(sdk_publish(api, project, "tech_stack", {"frontend": "React", "backend": "FastAPI"}), "tech_stack")
    assert_published(sdk_publish(api, project, "event_model", {"events": ["UserCreated", "OrderPlaced"]}), "event_model")
    assert_registration(sdk_register(api, agent, project, ["tech stack frontend", "event model events"]), agent, project)
    assert_published(sdk_publish(api, project, "api_specs", {"GET /users": "List users"}), "api_specs")
    body = assert_query_response(sdk_query(api, project, "frontend", 5), "frontend")
    assert len(body["matches"]) <= 5
    r = sdk(api, "DELETE", f"/api/v1/agents/{agent}")
    assert r.status == 200 and r.json()["status"] == "unregistered"


# 13 (sync client flow: a fresh connection per call, as urllib does here)
def test_item13_sync_flow(api):
    project, agent = uid("sync"), uid("agent")
    assert_published(sdk_publish(api, project, "test_data", {"test": True}), "test_data")
    assert_registration(sdk_register(api, agent, project, ["test data"]), agent, project)
    assert_query_response(sdk_query(api, project, "test"), "test")
    assert sdk(api, "DELETE", f"/api/v1/agents/{agent}").status == 200


# 14
def test_item14_registration_without_reachable_redis(make_server):
    server = make_server({"EMBEDDING_PROVIDER": "lexical", "REDIS_URL": free_redis_url()})
    project, agent = uid("noredis"), uid("agent")
    assert_published(sdk_publish(server, project, "tech_stack", {"frontend": "React"}), "tech_stack")
    assert_registration(sdk_register(server, agent, project, ["frontend"]), agent, project)


# 15
@pytest.mark.parametrize("method, path, body", [
    ("POST", "/api/v1/data/publish", {"project_id": "p"}),
    ("POST", "/api/v1/agents/register", {"agent_id": "a"}),
    ("DELETE", "/api/v1/agents/nonexistent-agent-xyz", None),
    ("GET", "/api/v1/agents/nonexistent-agent-xyz/status", None),
    ("POST", "/api/v1/projects/p/query", {"query": ""}),
    ("GET", "/api/v1/data/publish", None),
    ("POST", "/api/v1/no/such/route", None),
])
def test_item15_errors_are_json_with_detail(api, method, path, body):
    r = sdk(api, method, path, body)
    assert r.status >= 400
    assert r.header("Content-Type") == "application/json"
    assert "detail" in r.json()


def test_sdk_never_sees_redirects_or_204(api):
    project, agent = uid("paths"), uid("agent")
    for method, path, body in [
        ("POST", "/api/v1/data/publish/", {"project_id": project, "data_key": "k", "data": 1}),
        ("POST", "/api/v1/agents/register/", {"agent_id": agent, "project_id": project, "data_needs": []}),
        ("GET", f"/api/v1/agents/{agent}/status/", None),
        ("POST", f"/api/v1/projects/{project}/query/", {"query": "q"}),
        ("DELETE", f"/api/v1/agents/{agent}/", None),
    ]:
        r = sdk(api, method, path, body)
        assert r.status == 200, (path, r.status, r.body)
        assert SDK_HEADERS["Content-Type"] == r.header("Content-Type")
