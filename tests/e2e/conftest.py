"""Black-box fixtures: start the real `contex` binary on a free port and talk HTTP to it.

CONTEX_BINARY points at the binary (scripts/test sets it); CONTEX_TEST_POSTGRES_URL and
CONTEX_TEST_REDIS_URL come from scripts/services.
"""
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def binary_path():
    path = os.environ.get("CONTEX_BINARY") or str(ROOT / "build/release/src/cli/contex")
    if not Path(path).exists():
        pytest.fail(f"contex binary not found at {path}; build first (make test does)")
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    def header(self, name):
        return self.headers.get(name)


class ContexServer:
    """One running `contex serve` process with its own data dir and port."""

    def __init__(self, env=None, args=("serve",)):
        self.port = free_port()
        self.tmp = tempfile.TemporaryDirectory(prefix="contex-e2e-")
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": self.tmp.name,
            "PORT": str(self.port),
            "BIND_ADDRESS": "127.0.0.1",
            "CONTEX_DATA_DIR": os.path.join(self.tmp.name, "data"),
            "CONTEX_MODEL_DIR": os.path.join(self.tmp.name, "models"),
            "CONTEX_OFFLINE": "true",
            "SHUTDOWN_READINESS_DELAY_SECONDS": "0",
            "SHUTDOWN_GRACE_SECONDS": "10",
            "LOG_LEVEL": "DEBUG",
        }
        self.env.update(env or {})
        self.log_path = os.path.join(self.tmp.name, "server.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([binary_path(), *args], env=self.env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{self.port}"
        self._wait_ready()

    def _wait_ready(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"contex exited with {self.proc.returncode}:\n{self.logs()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    if self.get("/health").status == 200:
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"contex did not become ready:\n{self.logs()}")

    def logs(self):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def log_lines(self):
        lines = []
        for line in self.logs().splitlines():
            try:
                lines.append(json.loads(line))
            except json.JSONDecodeError:
                pass
        return lines

    def request(self, method, path, body=None, headers=None, raw=None):
        data = raw
        hdrs = dict(headers or {})
        if body is not None:
            data = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return Response(r.status, r.headers, r.read().decode())
        except urllib.error.HTTPError as e:
            return Response(e.code, e.headers, e.read().decode())

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def terminate(self, sig=signal.SIGTERM, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def close(self):
        self.terminate()
        self.log.close()
        self.tmp.cleanup()


@pytest.fixture(scope="module")
def server():
    s = ContexServer()
    yield s
    s.close()


@pytest.fixture
def make_server():
    started = []

    def factory(env=None, args=("serve",)):
        s = ContexServer(env, args)
        started.append(s)
        return s

    yield factory
    for s in started:
        s.close()
