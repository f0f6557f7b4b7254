#!/usr/bin/python3
"""Medians of the JSON lines written by run.sh, as markdown tables. Usage: summarize.py FILE"""
import json
import statistics
import sys
from collections import defaultdict


def med(rows, k):
    xs = [r[k] for r in rows if r.get(k) is not None]
    return statistics.median(xs) if xs else float("nan")


def load(rows):
    xs = [x for r in rows for x in r["load"]]
    return f"{min(xs):.1f}–{max(xs):.1f}"


groups = defaultdict(list)
for line in open(sys.argv[1]):
    r = json.loads(line)
    groups[(r["config"], r["bench"], r.get("mode", ""))].append(r)

print("| config | texts | runs × publishes | agents notified / publish | redis p50 ms | redis p99 ms | "
      "SSE p50 ms | SSE p99 ms | publish response p50 / p99 ms | embed encode ms / publish | "
      "tx ms / publish | list_agents ms / publish | reverse match ms / publish | load avg |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for (cfg, b, mode), rows in sorted(groups.items()):
    if b != "notify":
        continue
    print(f"| {cfg} | {mode} | {len(rows)} × {rows[0]['publishes']} | {med(rows, 'redis_agents_per_publish'):.0f} | "
          f"{med(rows, 'redis_p50_ms'):.1f} | {med(rows, 'redis_p99_ms'):.1f} | {med(rows, 'sse_p50_ms'):.1f} | "
          f"{med(rows, 'sse_p99_ms'):.1f} | {med(rows, 'resp_p50_ms'):.1f} / {med(rows, 'resp_p99_ms'):.1f} | "
          f"{med(rows, 'embed_encode_ms_per_publish'):.1f} | {med(rows, 'tx_ms_per_publish'):.1f} | "
          f"{med(rows, 'list_agents_ms_per_publish'):.1f} | {med(rows, 'reverse_match_ms_per_publish'):.1f} | {load(rows)} |")
print()
print("| config | bench | runs | req/s | p50 ms | p99 ms | nodes/s | agents notified / publish | non-200 | load avg |")
print("|---|---|---|---|---|---|---|---|---|---|")
for (cfg, b, mode), rows in sorted(groups.items()):
    if b == "notify":
        continue
    tp = b.startswith("throughput")
    nodes = f"{med(rows, 'nodes_per_s'):.0f}" if tp else "–"
    notified = f"{med(rows, 'notified_per_publish'):.0f}" if tp else "–"
    rps = med(rows, "rps") if b == "query" else med(rows, "publishes_per_s")
    print(f"| {cfg} | {b} | {len(rows)} | {rps:.1f} | {med(rows, 'p50_ms'):.2f} | {med(rows, 'p99_ms'):.2f} | "
          f"{nodes} | {notified} | {sum(r['non200'] for r in rows)} | {load(rows)} |")
