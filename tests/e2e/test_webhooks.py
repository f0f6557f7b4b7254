"""Agent webhooks (issue 8, api.md §6.8, engine.md §6.4) against the real binary: signed
deliveries checked independently, retries with Retry-After, 410 disabling, no retry on 400,
the destination policy at registration, and the SIGKILL fault trial (bench/webhook runs it
50 times per backend and records the result)."""
import os
import re
import signal
import time

import pytest

from core_helpers import backend_env, uid
from conftest import ContexServer, free_port
from webhook_receiver import WebhookReceiver, verify_signatures

BACKENDS = ["sqlite", "postgres"]
FAST_RETRIES = {"WEBHOOK_RETRY_BASE_SECONDS": "0.1", "WEBHOOK_TIMEOUT": "2"}


def start(kind, extra=None, data_dir=None):
    env = {"EMBEDDING_PROVIDER": "lexical", **FAST_RETRIES}
    env.update(backend_env(kind))
    if data_dir:
        env["CONTEX_DATA_DIR"] = data_dir
    env.update(extra or {})
    return ContexServer(env)


def register_webhook(server, agent, project, url, secret="s3cret", needs=("database configuration",)):
    body = {"agent_id": agent, "project_id": project, "data_needs": list(needs),
            "notification_method": "webhook", "webhook_url": url}
    if secret is not None:
        body["webhook_secret"] = secret
    r = server.post("/api/v1/agents/register", body)
    assert r.status == 200, r.body
    return r.json()


def publish(server, project, key, data):
    r = server.post("/api/v1/data/publish", {"project_id": project, "data_key": key, "data": data})
    assert r.status == 200, r.body
    return r.json()


def metric(server, name):
    text = server.get("/metrics").body
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


@pytest.fixture
def receiver():
    r = WebhookReceiver()
    yield r
    r.close()


@pytest.mark.parametrize("kind", BACKENDS)
def test_signed_initial_context_and_data_update(kind, receiver):
    server = start(kind)
    try:
        project, agent = uid("wh"), uid("agent")
        reg = register_webhook(server, agent, project, receiver.url, secret="whsec_c2VjcmV0LWtleQ==")
        got = receiver.wait_for(lambda r: len(r) >= 1)
        first = got[0]
        assert first.json()["type"] == "initial_context"
        assert first.json()["sequence"] == reg["current_sequence"]
        verify_signatures(first, "whsec_c2VjcmV0LWtleQ==")
        h = first.headers
        assert h["content-type"] == "application/json"
        assert h["x-contex-event"] == "initial_context"
        assert re.fullmatch(r"msg_[0-9a-f]{32}", h["webhook-id"])
        assert re.fullmatch(r"[0-9a-f-]{36}", h["x-contex-delivery-id"])
        assert h["user-agent"].startswith("Contex-Webhook/")

        published = publish(server, project, "db", {"database configuration": "PostgreSQL 15 primary"})
        got = receiver.wait_for(lambda r: len(r) >= 2)
        update = got[1]
        assert update.json()["type"] == "data_update" and update.json()["data_key"] == "db"
        assert update.json()["sequence"] == published["sequence"]
        assert update.headers["x-contex-event"] == "data_update"
        assert update.headers["webhook-id"] != first.headers["webhook-id"]
        verify_signatures(update, "whsec_c2VjcmV0LWtleQ==")

        # Unrelated data notifies nobody.
        publish(server, project, "ui", {"colour palette": "teal and orange"})
        time.sleep(0.5)
        assert len(receiver.snapshot()) == 2

        status = server.get(f"/api/v1/agents/{agent}/status").json()
        assert status["pending_deliveries"] == 0 and status["failed_deliveries"] == 0
        assert status["webhook_disabled"] is False
        recent = status["recent_deliveries"]
        assert [d["status"] for d in recent] == ["delivered", "delivered"]
        assert recent[0]["webhook_id"] == update.headers["webhook-id"]
        assert recent[0]["last_status_code"] == 200
        agent_view = server.get(f"/api/v1/agents/{agent}").json()
        assert "webhook_secret" not in agent_view and agent_view["has_webhook_secret"] is True
        assert metric(server, "contex_webhooks_sent_total") >= 2
    finally:
        server.close()


def test_unsigned_without_a_secret(receiver):
    server = start("sqlite")
    try:
        register_webhook(server, uid("agent"), uid("wh"), receiver.url, secret=None)
        [got] = receiver.wait_for(lambda r: len(r) >= 1)
        assert "webhook-signature" not in got.headers and "x-contex-signature" not in got.headers
        assert got.headers["webhook-id"].startswith("msg_")
    finally:
        server.close()


@pytest.mark.parametrize("kind", BACKENDS)
def test_retries_keep_the_webhook_id_and_honour_retry_after(kind):
    receiver = WebhookReceiver(responses=[(503, {}), (429, {"Retry-After": "1"})])
    server = start(kind)
    try:
        agent = uid("agent")
        register_webhook(server, agent, uid("wh"), receiver.url)
        got = receiver.wait_for(lambda r: len(r) >= 3, timeout=20)
        assert len({r.headers["webhook-id"] for r in got}) == 1
        assert len({r.headers["x-contex-delivery-id"] for r in got}) == 3
        assert got[2].at - got[1].at >= 0.95  # Retry-After: 1 is a minimum
        for r in got:
            verify_signatures(r, "s3cret")
        # The row is marked after the receiver answered: wait for it.
        deadline = time.time() + 10
        while (status := server.get(f"/api/v1/agents/{agent}/status").json())[
                "recent_deliveries"][0]["status"] != "delivered":
            assert time.time() < deadline, status
            time.sleep(0.05)
        assert status["recent_deliveries"][0]["attempts"] == 3
        assert metric(server, "contex_webhook_retries_total") >= 2
    finally:
        server.close()
        receiver.close()


def test_client_error_is_not_retried():
    receiver = WebhookReceiver(default=(400, {}))
    server = start("sqlite")
    try:
        agent = uid("agent")
        register_webhook(server, agent, uid("wh"), receiver.url)
        receiver.wait_for(lambda r: len(r) >= 1)
        time.sleep(1.5)
        assert len(receiver.snapshot()) == 1
        status = server.get(f"/api/v1/agents/{agent}/status").json()
        assert status["failed_deliveries"] == 1
        assert status["recent_deliveries"][0]["last_status_code"] == 400
    finally:
        server.close()
        receiver.close()


@pytest.mark.parametrize("kind", BACKENDS)
def test_gone_disables_the_webhook_until_the_agent_registers_again(kind):
    receiver = WebhookReceiver(responses=[(410, {})])
    server = start(kind)
    try:
        project, agent = uid("wh"), uid("agent")
        register_webhook(server, agent, project, receiver.url)
        receiver.wait_for(lambda r: len(r) >= 1)
        deadline = time.time() + 10
        while not server.get(f"/api/v1/agents/{agent}/status").json()["webhook_disabled"]:
            assert time.time() < deadline, "agent webhook not disabled after 410"
            time.sleep(0.05)
        publish(server, project, "db", {"database configuration": "PostgreSQL 15 primary"})
        time.sleep(1.0)
        assert len(receiver.snapshot()) == 1
        # Registering again switches the webhook back on: catch-up events, then the context.
        register_webhook(server, agent, project, receiver.url)
        # (Per-agent order is not guaranteed over webhooks: receivers order by sequence.)
        got = receiver.wait_for(lambda r: len(r) >= 3)
        assert sorted(x.json()["type"] for x in got[1:]) == ["event", "initial_context"]
        assert server.get(f"/api/v1/agents/{agent}/status").json()["webhook_disabled"] is False
    finally:
        server.close()
        receiver.close()


def test_destination_policy_at_registration():
    open_server = start("sqlite")
    strict = start("sqlite", {"WEBHOOK_BLOCK_PRIVATE": "true", "WEBHOOK_ALLOWED_HOSTS": "10.9.0.0/16"})
    try:
        def attempt(server, url):
            return server.post("/api/v1/agents/register", {
                "agent_id": uid("agent"), "project_id": uid("wh"), "data_needs": ["x"],
                "notification_method": "webhook", "webhook_url": url})

        for url in ["http://169.254.169.254/latest/meta-data", "http://0.0.0.0:80/",
                    "http://[fe80::1]/hook", "http://224.0.0.1/"]:
            r = attempt(open_server, url)
            assert r.status == 422, (url, r.body)
            [item] = r.json()["detail"]
            assert item["loc"] == ["body", "webhook_url"] and item["type"] == "value_error"
            assert item["msg"] == "Value error, webhook_url resolves to a blocked address"
        assert attempt(open_server, "http://127.0.0.1:9/hook").status == 200
        for url in ["http://127.0.0.1:9/hook", "http://localhost:9/hook", "http://10.0.0.5/",
                    "http://[::1]:9/"]:
            assert attempt(strict, url).status == 422, url
        assert attempt(strict, "http://10.9.1.1/hook").status == 200  # allowed CIDR
        assert open_server.get("/api/v1/agents?project_id=none").json()["count"] == 0
    finally:
        open_server.close()
        strict.close()


def test_blocked_at_delivery_time_when_the_policy_changes(receiver, tmp_path):
    """A URL registered under an open policy is refused at every attempt once the server
    runs with WEBHOOK_BLOCK_PRIVATE=true (the check runs after DNS resolution)."""
    data_dir = str(tmp_path / "data")
    first = start("sqlite", {"WEBHOOK_WORKERS": "1"}, data_dir)
    project, agent = uid("wh"), uid("agent")
    try:
        register_webhook(first, agent, project, receiver.url.replace("127.0.0.1", "localhost"))
        receiver.wait_for(lambda r: len(r) >= 1)
    finally:
        first.close()
    second = start("sqlite", {"WEBHOOK_BLOCK_PRIVATE": "true"}, data_dir)
    try:
        publish(second, project, "db", {"database configuration": "PostgreSQL 15 primary"})
        deadline = time.time() + 10
        while second.get(f"/api/v1/agents/{agent}/status").json()["failed_deliveries"] < 1:
            assert time.time() < deadline
            time.sleep(0.05)
        assert len(receiver.snapshot()) == 1
    finally:
        second.close()


# ---- fault trial: receiver down, SIGKILL mid-retry, restart, recovery ---------------------

def run_fault_trial(kind, data_dir, publishes=5, down_seconds=1.0):
    """One trial. Returns (expected, delivered_ok, duplicates) and raises on a loss."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    env = {"WEBHOOK_WORKERS": "4", "WEBHOOK_CIRCUIT_OPEN_SECONDS": "2"}
    server = start(kind, env, data_dir)
    project, agent = uid("fault"), uid("agent")
    expected = set()
    try:
        reg = register_webhook(server, agent, project, url)
        expected.add(("initial_context", reg["current_sequence"]))
        for i in range(publishes):
            body = publish(server, project, f"db{i}",
                           {"database configuration": f"PostgreSQL replica {i} of the primary"})
            expected.add(("data_update", body["sequence"]))
        deadline = time.time() + 10
        while metric(server, "contex_webhook_retries_total") < 1:
            assert time.time() < deadline, "no retry scheduled while the receiver is down"
            time.sleep(0.02)
        time.sleep(down_seconds * (0.2 + 0.8 * (hash(agent) % 100) / 100))  # kill at varied points
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait()
    finally:
        server.log.close()
    receiver = WebhookReceiver(port=port)
    restarted = start(kind, env, data_dir)
    try:
        def complete(received):
            seen = {(r.json()["type"], r.json()["sequence"]) for r in received}
            return expected <= seen

        # PostgreSQL: a claim interrupted by the kill waits for its lease (timeout + 30 s).
        got = receiver.wait_for(complete, timeout=60)
        ids = {}
        for r in got:
            key = (r.json()["type"], r.json()["sequence"])
            ids.setdefault(key, set()).add(r.headers["webhook-id"])
            verify_signatures(r, "s3cret")
        assert all(len(v) == 1 for v in ids.values()), f"duplicates with different webhook-ids: {ids}"
        duplicates = len(got) - len(ids)
        return len(expected), len(ids), duplicates
    finally:
        restarted.close()
        receiver.close()
        server.tmp.cleanup()


@pytest.mark.parametrize("kind", BACKENDS)
def test_nothing_is_lost_when_the_server_is_killed_mid_retry(kind, tmp_path):
    trials = int(os.environ.get("CONTEX_WEBHOOK_FAULT_TRIALS", "2"))
    for t in range(trials):
        expected, delivered, _ = run_fault_trial(kind, str(tmp_path / f"data{t}"))
        assert delivered == expected
