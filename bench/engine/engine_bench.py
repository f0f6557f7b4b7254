#!/usr/bin/python3
"""Black-box engine benchmark driver (issue 7): talks to a running contex over HTTP and
receives pushed messages through Redis pub/sub (raw RESP, PSUBSCRIBE agent:*:updates)
and SSE (GET /api/v1/agents/{id}/stream, one selector thread).

  engine_bench.py setup  URL PROJECT AGENTS           register agents (batches of 100)
                                                       and publish the base data set
  engine_bench.py notify URL PROJECT REDIS_PORT N MODE [SSE_AGENTS]
      MODE cold: every publish carries new node texts (embedding included);
      MODE warm: publishes cycle through 4 variants already embedded (cache hits, so
      no inference: the engine + notify path alone).
      Prints one JSON line: latencies (ms) from sending the publish to each notified
      agent receiving its data_update (redis, sse), publish response time, embedding
      encode time per publish from /metrics, notified agents per publish.

Timestamps are taken when a socket read returns, before any parsing, so the client's
parsing cost is not counted. Publishes are sent one at a time; the next starts when the
previous one's messages have stopped arriving (quiet 150 ms after the response, max 5 s).
"""
import http.client
import json
import random
import re
import selectors
import socket
import sys
import threading
import time
import urllib.parse

SERVICES = ("billing payments inventory shipping catalog search checkout accounts ledger "
            "invoices refunds pricing promotions reviews ratings recommendations "
            "notifications email sms push analytics reporting audit identity sessions "
            "gateway scheduler workers ingestion exports imports media thumbnails "
            "storage backups archive metrics tracing alerts support chat").split()
ASPECTS = {
    "database": ["host", "port", "pool_size", "replica", "schema", "timeout_ms"],
    "cache": ["ttl_seconds", "max_entries", "eviction", "cluster", "warmup", "namespace"],
    "queue": ["broker", "topic", "partitions", "retention", "consumer_group", "dlq"],
    "authentication": ["issuer", "audience", "token_ttl", "mfa", "scopes", "provider"],
    "logging": ["level", "format", "sink", "sampling", "redact", "retention_days"],
    "deployment": ["replicas", "region", "image", "cpu_limit", "memory_limit", "strategy"],
    "ratelimit": ["requests", "window", "burst", "scope", "penalty", "exempt"],
    "feature_flags": ["rollout", "cohort", "kill_switch", "owner", "expiry", "variant"],
}
NEED_FORMS = ["{a} configuration for the {s} service", "{s} {a} settings",
              "how is {a} set up in {s}", "{a} parameters used by {s}"]


def agent_needs(i):
    rng = random.Random(i)
    needs = []
    for _ in range(rng.choice((1, 2, 2, 3))):
        s, a = rng.choice(SERVICES), rng.choice(list(ASPECTS))
        needs.append(rng.choice(NEED_FORMS).format(a=a.replace("_", " "), s=s))
    return needs


def key_data(s, a, variant):
    """One data key = one service/aspect: two child objects -> 2 nodes."""
    fields = ASPECTS[a]
    cfg = {f: f"{s}-{f}-v{variant}" for f in fields[:3]}
    cfg.update({f: (variant * 7 + j) % 1000 for j, f in enumerate(fields[3:])})
    return {a: cfg, "owner": {"team": f"{s} team", "revision": variant}}


class Http:
    def __init__(self, url):
        u = urllib.parse.urlparse(url)
        self.host, self.port = u.hostname, u.port
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        hdr = {"Content-Type": "application/json"} if data is not None else {}
        self.conn.request(method, path, body=data, headers=hdr)
        r = self.conn.getresponse()
        raw = r.read()
        if r.status != 200:
            raise RuntimeError(f"{method} {path} -> {r.status} {raw[:300]!r}")
        return raw

    def metrics(self):
        out = {}
        for line in self.call("GET", "/metrics").decode().splitlines():
            if line.startswith("contex_") and " " in line:
                k, v = line.rsplit(" ", 1)
                try:
                    out[k] = float(v)
                except ValueError:
                    pass
        return out


def setup(url, project, agents):
    h = Http(url)
    t = time.monotonic()
    for b in range(0, agents, 100):
        items = [{"agent_id": f"agent-{i:04d}", "project_id": project, "data_needs": agent_needs(i)}
                 for i in range(b, min(agents, b + 100))]
        h.call("POST", "/api/v1/batch/register", items)
    t_reg = time.monotonic() - t
    t = time.monotonic()
    n = 0
    batch = []
    for s in SERVICES:
        for a in ASPECTS:
            batch.append({"project_id": project, "data_key": f"{s}_{a}", "data": key_data(s, a, 0)})
            if len(batch) == 10:  # small batches: MiniLM embeds ~20 nodes/batch well inside the request timeout
                h.call("POST", "/api/v1/batch/publish", batch); n += len(batch); batch = []
    if batch:
        h.call("POST", "/api/v1/batch/publish", batch); n += len(batch)
    print(json.dumps({"agents": agents, "register_s": round(t_reg, 2), "base_keys": n,
                      "base_publish_s": round(time.monotonic() - t, 2)}))


class Received:
    """seq -> list of receive times; shared by the receiver threads."""
    def __init__(self):
        self.lock = threading.Lock()
        self.by_seq = {}
        self.last = 0.0

    def add(self, seq, t):
        with self.lock:
            self.by_seq.setdefault(seq, []).append(t)
            self.last = t


UPDATE_RE = re.compile(rb'"type":"data_update","agent_id":"[^"]*","project_id":"[^"]*","sequence":"(\d+)"')
SSE_RE = re.compile(rb'id: (\d+)\nevent: data_update\n')


def redis_receiver(port, rec, ready, stop):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"*2\r\n$10\r\nPSUBSCRIBE\r\n$15\r\nagent:*:updates\r\n")
    buf = b""
    pos = 0
    ready.set()
    s.settimeout(0.2)
    while not stop.is_set():
        try:
            chunk = s.recv(1 << 20)
        except socket.timeout:
            continue
        t = time.monotonic()
        if not chunk:
            break
        buf = buf[pos:] + chunk
        pos = 0
        # RESP frames of pubsub: *N\r\n then N bulk/int items. Parse complete frames only.
        while True:
            start = pos
            frame, pos = parse_resp(buf, pos)
            if frame is None:
                pos = start
                break
            if isinstance(frame, list) and frame and frame[0] == b"pmessage":
                m = UPDATE_RE.search(frame[3], 0, 300)
                if m:
                    rec.add(int(m.group(1)), t)
    s.close()


def parse_resp(buf, pos):
    """Returns (value, new_pos) or (None, pos) when incomplete."""
    end = buf.find(b"\r\n", pos)
    if end < 0:
        return None, pos
    kind, rest = buf[pos:pos + 1], buf[pos + 1:end]
    p = end + 2
    if kind == b"*":
        n = int(rest)
        items = []
        for _ in range(n):
            v, p2 = parse_resp(buf, p)
            if v is None:
                return None, pos
            items.append(v)
            p = p2
        return items, p
    if kind == b"$":
        n = int(rest)
        if len(buf) < p + n + 2:
            return None, pos
        return buf[p:p + n], p + n + 2
    return rest, p  # +, -, :


def sse_receiver(url, agent_ids, rec, ready, stop):
    u = urllib.parse.urlparse(url)
    sel = selectors.DefaultSelector()
    bufs = {}
    for a in agent_ids:
        s = socket.create_connection((u.hostname, u.port))
        s.sendall(f"GET /api/v1/agents/{a}/stream HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n".encode())
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        bufs[s] = b""
    ready.set()
    while not stop.is_set():
        for key, _ in sel.select(0.2):
            s = key.fileobj
            try:
                chunk = s.recv(1 << 20)
            except BlockingIOError:
                continue
            t = time.monotonic()
            if not chunk:
                sel.unregister(s)
                continue
            b = bufs[s] + chunk
            for m in SSE_RE.finditer(b):
                rec.add(int(m.group(1)), t)
            cut = b.rfind(b"\n\n")  # keep only an unfinished frame (chunked framing lines are harmless)
            bufs[s] = b[cut + 2:] if cut >= 0 else b[-65536:]
    for s in bufs:
        s.close()


def pct(xs, q):
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def notify(url, project, redis_port, n, mode, sse_agents):
    h = Http(url)
    stop = threading.Event()
    rrec, srec = Received(), Received()
    r_ready, s_ready = threading.Event(), threading.Event()
    threads = [threading.Thread(target=redis_receiver, args=(redis_port, rrec, r_ready, stop), daemon=True)]
    sse_ids = [f"agent-{i:04d}" for i in range(0, 1000, max(1, 1000 // sse_agents))][:sse_agents] if sse_agents else []
    if sse_ids:
        threads.append(threading.Thread(target=sse_receiver, args=(url, sse_ids, srec, s_ready, stop), daemon=True))
    else:
        s_ready.set()
    for t in threads:
        t.start()
    r_ready.wait(); s_ready.wait()
    time.sleep(1.0)  # let SSE initial_context frames drain
    rng = random.Random(f"{mode}-{time.time()}")
    keys = [(s, a) for s in SERVICES for a in ASPECTS]
    if mode == "warm":  # prime: every variant of the 16 keys embedded once (cache)
        for i in range(64):
            s, a = keys[i % 16]
            h.call("POST", "/api/v1/data/publish",
                   {"project_id": project, "data_key": f"{s}_{a}", "data": key_data(s, a, 1 + i // 16)})
        time.sleep(1.0)
    m0 = h.metrics()
    sent = {}
    resp_ms = []
    nodes = 0
    base_variant = int(time.time() * 1000) % 1000000 * 10 + 10
    for i in range(n):
        s, a = keys[rng.randrange(len(keys))] if mode == "cold" else keys[i % 16]
        variant = base_variant + i if mode == "cold" else 1 + (i // 16) % 4
        body = {"project_id": project, "data_key": f"{s}_{a}", "data": key_data(s, a, variant)}
        t0 = time.monotonic()
        raw = h.call("POST", "/api/v1/data/publish", body)
        t1 = time.monotonic()
        r = json.loads(raw)
        seq = int(r["sequence"])
        if not r["changed"]:
            continue  # warm mode: first pass over a variant equal to the stored one
        sent[seq] = t0
        resp_ms.append((t1 - t0) * 1e3)
        nodes += r["node_count"]
        deadline = t1 + 5
        while time.monotonic() < deadline:
            time.sleep(0.05)
            last = max(rrec.last, srec.last)
            if time.monotonic() - max(last, t1) > 0.15:
                break
    time.sleep(0.3)
    m1 = h.metrics()
    stop.set()

    def lat(rec):
        out, per = [], []
        with rec.lock:
            for seq, t0 in sent.items():
                ts = rec.by_seq.get(seq, [])
                per.append(len(ts))
                out.extend((t - t0) * 1e3 for t in ts)
        return out, per

    rl, rper = lat(rrec)
    sl, sper = lat(srec)
    d = lambda k: m1.get(k, 0) - m0.get(k, 0)
    enc_n = d('contex_embedding_duration_seconds_count{operation="encode"}')
    enc_s = d('contex_embedding_duration_seconds_sum{operation="encode"}')
    pub_key = f'contex_publish_duration_seconds_sum{{project_id="{project}"}}'
    pub_cnt = f'contex_publish_duration_seconds_count{{project_id="{project}"}}'
    np_ = len(sent)
    res = {
        "mode": mode, "publishes": np_, "nodes_per_publish": round(nodes / max(1, np_), 2),
        "redis_msgs": len(rl), "redis_agents_per_publish": round(sum(rper) / max(1, np_), 1),
        "redis_p50_ms": pct(rl, 0.5), "redis_p99_ms": pct(rl, 0.99), "redis_max_ms": max(rl) if rl else None,
        "sse_streams": len(sse_ids), "sse_msgs": len(sl), "sse_p50_ms": pct(sl, 0.5), "sse_p99_ms": pct(sl, 0.99),
        "resp_p50_ms": pct(resp_ms, 0.5), "resp_p99_ms": pct(resp_ms, 0.99),
        "server_publish_mean_ms": 1e3 * d(pub_key) / max(1, d(pub_cnt)),
        "embed_encode_ms_per_publish": 1e3 * enc_s / max(1, np_), "encode_batches": enc_n,
        "cache_hits": d("contex_embedding_cache_hits_total"), "cache_misses": d("contex_embedding_cache_misses_total"),
        "tx_ms_per_publish": 1e3 * d('contex_db_query_duration_seconds_sum{operation="project_transaction"}') / max(1, np_),
        "list_agents_ms_per_publish": 1e3 * d('contex_db_query_duration_seconds_sum{operation="list_agents"}') / max(1, np_),
        "reverse_match_ms_per_publish": 1e3 * d("contex_reverse_match_duration_seconds_sum") / max(1, np_),
        "redis_notifications": d('contex_notifications_total{transport="redis",type="data_update",status="success"}'),
    }
    print(json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in res.items()}))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "setup":
        setup(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif cmd == "notify":
        notify(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6],
               int(sys.argv[7]) if len(sys.argv) > 7 else 0)
    else:
        sys.exit(__doc__)
