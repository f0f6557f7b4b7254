"""Model change (engine.md §2.7, issue 7): data embedded by one model is re-embedded in the
background when the server restarts on another, with progress in the logs and the
`embedding_model` health component, and searches use the new vectors afterwards."""
import hashlib
import http.server
import json
import math
import threading
import time

from conftest import ContexServer


class FakeEmbeddings:
    """An OpenAI-compatible /v1/embeddings endpoint with deterministic 16-d vectors
    (word hashing), counting the texts it embedded."""

    def __init__(self):
        self.texts = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
                outer.texts.extend(inputs)
                data = [{"object": "embedding", "index": i, "embedding": vector(t)}
                        for i, t in enumerate(inputs)]
                raw = json.dumps({"object": "list", "data": data, "model": body["model"]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def vector(text):
    v = [0.0] * 16
    for word in text.lower().split():
        h = int(hashlib.sha256(word.strip(".,:|").encode()).hexdigest(), 16)
        v[h % 16] += 1.0
    norm = math.sqrt(sum(x * x for x in v)) or 1.0
    return [x / norm for x in v]


def test_restart_on_another_model_reembeds_in_the_background(tmp_path):
    data_dir = str(tmp_path / "data")
    first = ContexServer({"EMBEDDING_PROVIDER": "lexical", "CONTEX_DATA_DIR": data_dir})
    try:
        for i in range(5):
            r = first.post("/api/v1/data/publish", {
                "project_id": "models", "data_key": f"service{i}",
                "data": {"database": f"PostgreSQL cluster {i}", "owner": f"team {i}"}})
            assert r.status == 200, r.body
        r = first.post("/api/v1/agents/register", {
            "agent_id": "dba", "project_id": "models", "data_needs": ["database cluster"]})
        assert r.status == 200, r.body
    finally:
        first.close()

    fake = FakeEmbeddings()
    second = ContexServer({"EMBEDDING_PROVIDER": "openai", "EMBEDDING_API_URL": fake.url,
                           "EMBEDDING_MODEL": "fake-16", "CONTEX_DATA_DIR": data_dir,
                           "SIMILARITY_THRESHOLD": "0.1"})
    try:
        deadline = time.time() + 30
        while not any(l.get("message") == "Re-embedding finished" for l in second.log_lines()):
            assert time.time() < deadline, second.logs()[-3000:]
            time.sleep(0.1)
        lines = second.log_lines()
        started = [l for l in lines if l.get("message") == "Re-embedding started"]
        finished = [l for l in lines if l.get("message") == "Re-embedding finished"][0]
        assert started and started[0]["model"] == "openai:fake-16"
        assert finished["nodes"] >= 5 and finished["needs"] == 1 and finished["failed_projects"] == 0
        assert any(l.get("message") == "Re-embedding progress" and l["project_id"] == "models"
                   for l in lines)
        assert "database cluster" in fake.texts  # the need was re-embedded too
        health = second.get("/api/v1/health").json()
        assert health["components"]["embedding_model"]["status"] == "healthy", health

        r = second.post("/api/v1/projects/models/query", {"query": "PostgreSQL cluster 3"})
        assert r.status == 200, r.body
        matches = r.json()["matches"]
        assert matches and matches[0]["similarity"] > 0.1, matches
        # A second restart on the same model re-embeds nothing.
        embedded = len(fake.texts)
    finally:
        second.close()
    third = ContexServer({"EMBEDDING_PROVIDER": "openai", "EMBEDDING_API_URL": fake.url,
                          "EMBEDDING_MODEL": "fake-16", "CONTEX_DATA_DIR": data_dir})
    try:
        time.sleep(1.0)
        assert not any(l.get("message") == "Re-embedding started" for l in third.log_lines())
        assert len(fake.texts) <= embedded + 2  # start-up dimension probe / self-test only
    finally:
        third.close()
        fake.close()
