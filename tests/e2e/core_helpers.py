"""Helpers shared by the core API black-box suites (test_core_api.py, test_sdk_profile.py).

Backends: every core test runs on the embedded default (SQLite, no Redis) and, when
scripts/services provides them (CONTEX_TEST_POSTGRES_URL / CONTEX_TEST_REDIS_URL), on
PostgreSQL + Redis. Project and agent ids carry a random suffix so suites can share a
database.
"""
import http.client
import json
import os
import socket
import time
import uuid

import pytest

from conftest import ContexServer, free_port

SDK_HEADERS = {"Content-Type": "application/json", "User-Agent": "contex-python/0.2.0"}


def backend_env(kind):
    if kind == "sqlite":
        return {}
    pg = os.environ.get("CONTEX_TEST_POSTGRES_URL")
    redis = os.environ.get("CONTEX_TEST_REDIS_URL")
    if not pg or not redis:
        if os.environ.get("CONTEX_REQUIRE_SERVICES") == "1":
            pytest.fail("CONTEX_TEST_POSTGRES_URL / CONTEX_TEST_REDIS_URL not set")
        pytest.skip("PostgreSQL/Redis not provided (scripts/services start)")
    return {"DATABASE_URL": pg, "REDIS_URL": redis}


def start_core_server(kind, extra=None):
    env = {"EMBEDDING_PROVIDER": "lexical"}
    env.update(backend_env(kind))
    env.update(extra or {})
    return ContexServer(env)


def free_redis_url():
    """A Redis URL where nothing listens (connection refused)."""
    return f"redis://127.0.0.1:{free_port()}/0"


def uid(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def sdk(server, method, path, body=None):
    """A request as the SDK sends it: JSON content type on every method."""
    raw = json.dumps(body).encode() if body is not None else None
    return server.request(method, path, raw=raw, headers=dict(SDK_HEADERS))


class SseClient:
    """Minimal SSE reader over a raw HTTP/1.1 connection (chunked transfer)."""

    def __init__(self, server, path, headers=None, timeout=10):
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
        self.conn.request("GET", path, headers=headers or {})
        self.response = self.conn.getresponse()
        self.status = self.response.status
        self.headers = self.response.headers

    def body(self):
        return self.response.read().decode()

    def next_frame(self, timeout=10):
        """The next event frame as a dict (id, event, data parsed as JSON); None at EOF.
        Comments (heartbeats) and retry lines are skipped."""
        deadline = time.time() + timeout
        frame = {}
        while time.time() < deadline:
            try:
                line = self.response.readline()
            except socket.timeout:
                break
            if not line:
                return None
            line = line.decode().rstrip("\r\n")
            if line == "":
                if "data" in frame:
                    return frame
                frame = {}
                continue
            if line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "data":
                frame["data"] = json.loads(value)
            elif field in ("id", "event", "retry"):
                frame[field] = value
        raise AssertionError("no SSE frame within timeout")

    def close(self):
        try:
            self.conn.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.conn.close()
