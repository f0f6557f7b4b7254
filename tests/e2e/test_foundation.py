"""Issue 2 black-box checks: health, metrics, errors, headers, request ids, shutdown, config."""
import os
import re
import signal
import socket
import subprocess
import time

from prometheus_client.parser import text_string_to_metric_families

from conftest import binary_path

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "X-XSS-Protection": "1; mode=block",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": "geolocation=(), microphone=(), camera=(), payment=(), usb=()",
}
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")


def test_bare_health_is_public_and_minimal(server):
    r = server.get("/health")
    assert r.status == 200
    assert r.json() == {"status": "healthy", "service": "contex", "version": "1.0.0"}
    assert r.header("Server") == "contex/1.0.0"
    assert r.header("X-API-Version") is None


def test_detailed_health_has_component_shape(server):
    for prefix in ("/api/v1", "/api"):
        r = server.get(prefix + "/health")
        assert r.status == 200
        body = r.json()
        assert list(body)[:5] == ["status", "timestamp", "uptime_seconds", "version", "components"]
        assert body["status"] in ("healthy", "degraded")
        assert ISO.match(body["timestamp"])
        components = body["components"]
        for name in ("system_resources", "graceful_degradation", "redis"):
            assert name in components, name
        for c in components.values():
            assert c["status"] in ("healthy", "degraded", "unhealthy")
            assert ISO.match(c["timestamp"])
        assert components["redis"]["details"] == {"enabled": False}
        assert components["graceful_degradation"]["message"] == "Graceful degradation not configured"


def test_ready_and_live_shapes(server):
    r = server.get("/api/v1/health/ready")
    assert r.status == 200
    body = r.json()
    assert body["ready"] is True and body["shutting_down"] is False
    assert isinstance(body["checks"], dict) and ISO.match(body["timestamp"])
    r = server.get("/api/v1/health/live/")
    assert r.status == 200
    live = r.json()
    assert live["alive"] is True and live["uptime_seconds"] >= 0 and ISO.match(live["timestamp"])


def test_root_info_on_both_roots(server):
    expected = {"service": "Contex", "status": "running", "version": "1.0.0", "api": "/api/v1",
                "health": "/api/v1/health"}
    assert server.get("/").json() == expected
    assert server.get("/api/v1").json() == expected
    assert server.get("/api/v1/").json() == expected


def families(text):
    return {f.name: f for f in text_string_to_metric_families(text)}


def health_count(fams):
    total = 0
    for s in fams["contex_http_requests"].samples:
        if s.name == "contex_http_requests_total" and s.labels["endpoint"] == "/health" \
                and s.labels["method"] == "GET" and s.labels["status_code"] == "200":
            total += s.value
    return total


def test_metrics_parse_as_prometheus_text_and_count_requests(server):
    before = families(server.get("/api/v1/metrics").body)
    for _ in range(7):
        assert server.get("/health").status == 200
    r = server.get("/api/v1/metrics")
    assert r.status == 200
    assert r.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8"
    after = families(r.body)
    assert health_count(after) - health_count(before) == 7
    for name in ("contex_http_request_duration_seconds", "contex_errors", "process_resident_memory_bytes",
                 "process_cpu_seconds", "process_open_fds", "process_start_time_seconds",
                 "contex_active_requests", "contex_service_info"):
        assert name in after, name
    # Scrapes are not counted in the HTTP series.
    endpoints = {s.labels.get("endpoint") for s in after["contex_http_requests"].samples}
    assert "/api/v1/metrics" not in endpoints
    assert server.get("/metrics").status == 200 and server.get("/api/metrics").status == 200


def test_unknown_route_is_404_json_with_headers(server):
    r = server.get("/api/v1/definitely/not/here")
    assert r.status == 404
    assert r.json() == {"detail": "Not Found"}
    assert r.header("Content-Type") == "application/json"
    assert r.header("X-API-Version") == "v1"
    for k, v in SECURITY_HEADERS.items():
        assert r.header(k) == v
    assert "frame-ancestors 'none'" in r.header("Content-Security-Policy")


def test_wrong_method_is_405_with_allow(server):
    r = server.request("DELETE", "/api/v1/health")
    assert r.status == 405
    assert r.json() == {"detail": "Method Not Allowed"}
    assert r.header("Allow") == "GET, HEAD, OPTIONS"
    r = server.request("OPTIONS", "/api/v1/health")
    assert r.status == 204 and r.header("Allow") == "GET, HEAD, OPTIONS"


def test_head_answers_headers_only(server):
    r = server.request("HEAD", "/health")
    assert r.status == 200 and r.body == ""
    assert int(r.header("Content-Length")) == len(server.get("/health").body)


def test_body_over_limit_is_413_json(make_server):
    s = make_server({"MAX_REQUEST_BYTES": "2048"})
    r = s.post("/api/v1/health", raw=b"x" * 5000, headers={"Content-Type": "application/json"})
    assert r.status == 413
    assert r.json() == {"detail": "Request body too large (limit 2048 bytes)"}
    assert r.header("X-API-Version") == "v1"


def test_version_and_deprecation_headers_on_both_prefixes(server):
    v1 = server.get("/api/v1/health/live")
    assert v1.header("X-API-Version") == "v1" and v1.header("X-API-Deprecation") is None
    legacy = server.get("/api/health/live")
    assert legacy.status == 200
    assert legacy.header("X-API-Version") == "legacy"
    assert legacy.header("X-API-Deprecation") == "This API version is deprecated. Use /api/v1 instead."
    legacy404 = server.get("/api/nothing")
    assert legacy404.header("X-API-Version") == "legacy"


def test_request_id_is_adopted_or_generated_and_logged(server):
    r = server.get("/api/v1/health/live", headers={"X-Request-ID": "client-id.42:a_b-c"})
    assert r.header("X-Request-ID") == "client-id.42:a_b-c"
    r = server.get("/api/v1/health/live", headers={"X-Request-ID": "bad id with spaces"})
    generated = r.header("X-Request-ID")
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    time.sleep(0.1)
    logged = [l for l in server.log_lines() if l.get("message") == "HTTP request completed"]
    ids = {l.get("request_id") for l in logged}
    assert "client-id.42:a_b-c" in ids and generated in ids
    line = next(l for l in logged if l.get("request_id") == generated)
    for key in ("method", "path", "endpoint", "status_code", "duration_ms", "client_ip"):
        assert key in line
    assert line["endpoint"] == "/api/v1/health/live"


def test_cors_preflight_and_simple_requests(server):
    r = server.request("OPTIONS", "/api/v1/data/publish",
                       headers={"Origin": "https://ui.example", "Access-Control-Request-Method": "POST",
                                "Access-Control-Request-Headers": "content-type"})
    assert r.status == 200 and r.body == "OK"
    assert r.header("Access-Control-Allow-Origin") == "*"
    assert r.header("Access-Control-Allow-Headers") == "content-type"
    r = server.get("/health", headers={"Origin": "https://ui.example"})
    assert r.header("Access-Control-Allow-Origin") == "*"
    assert "X-Request-ID" in r.header("Access-Control-Expose-Headers")


def test_cors_explicit_origins(make_server):
    s = make_server({"CORS_ORIGINS": "https://ok.example"})
    r = s.request("OPTIONS", "/api/v1/health", headers={"Origin": "https://evil.example",
                                                        "Access-Control-Request-Method": "GET"})
    assert r.status == 400 and r.json() == {"detail": "Disallowed CORS origin"}
    r = s.get("/api/v1/health/live", headers={"Origin": "https://ok.example"})
    assert r.header("Access-Control-Allow-Origin") == "https://ok.example"
    assert r.header("Vary") == "Origin"


def test_sigterm_lets_a_slow_request_finish_and_exits_zero(make_server):
    s = make_server({"SHUTDOWN_READINESS_DELAY_SECONDS": "1", "SHUTDOWN_GRACE_SECONDS": "20"})
    sock = socket.create_connection(("127.0.0.1", s.port))
    body = b'{"padding": "' + b"x" * 100 + b'"}'
    head = (f"POST /api/v1/health HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    sock.sendall(head + body[:10])
    time.sleep(0.3)
    s.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    # During the readiness delay the replica reports unready.
    ready = s.get("/api/v1/health/ready")
    assert ready.status == 503 and ready.json()["shutting_down"] is True
    time.sleep(1.5)  # past the delay: listener closed, our request still in flight
    assert s.proc.poll() is None
    sock.sendall(body[10:])
    reply = b""
    sock.settimeout(10)
    while b"\r\n\r\n" not in reply or not reply.endswith(b"}"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        reply += chunk
    sock.close()
    assert reply.startswith(b"HTTP/1.1 405"), reply[:200]
    assert s.proc.wait(timeout=20) == 0
    messages = [l.get("message") for l in s.log_lines()]
    assert "Shutdown initiated" in messages


def test_idle_keepalive_connections_do_not_block_shutdown(make_server):
    s = make_server()
    idle = socket.create_connection(("127.0.0.1", s.port))
    idle.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    idle.recv(4096)
    started = time.time()
    assert s.terminate() == 0
    assert time.time() - started < 5
    idle.close()


def test_invalid_configuration_exits_2_naming_the_variable():
    env = {"PATH": os.environ.get("PATH", "/usr/bin"), "PORT": "not-a-port",
           "CONTEX_DATA_DIR": "/tmp/contex-e2e-invalid"}
    p = subprocess.run([binary_path(), "serve"], env=env, capture_output=True, timeout=30)
    assert p.returncode == 2
    assert b"PORT" in p.stderr and b"not-a-port" in p.stderr
    env = {"PATH": os.environ.get("PATH", "/usr/bin"), "DATABASE_POOL_SIZE": "0"}
    p = subprocess.run([binary_path(), "serve"], env=env, capture_output=True, timeout=30)
    assert p.returncode == 2 and b"DATABASE_POOL_SIZE" in p.stderr


def test_version_flag():
    p = subprocess.run([binary_path(), "--version"], capture_output=True, timeout=30)
    assert p.returncode == 0 and p.stdout.strip() == b"contex 1.0.0"


def test_cli_migrate_and_embed(tmp_path):
    env = {"PATH": os.environ.get("PATH", "/usr/bin"), "HOME": str(tmp_path),
           "CONTEX_DATA_DIR": str(tmp_path / "data"), "EMBEDDING_PROVIDER": "lexical"}
    p = subprocess.run([binary_path(), "migrate"], env=env, capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    import json as _json
    out = _json.loads(p.stdout)
    assert out["backend"] == "sqlite" and out["schema_version"]
    p = subprocess.run([binary_path(), "embed", "database configuration", "frontend"], env=env,
                       capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    body = _json.loads(p.stdout)
    assert body["dim"] == 384 and len(body["vectors"]) == 2
    assert abs(sum(x * x for x in body["vectors"][0]) - 1.0) < 1e-4
