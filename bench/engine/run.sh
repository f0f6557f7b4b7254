#!/usr/bin/env bash
# Engine + API benchmarks (issue 7), black box against the release binary over HTTP on
# 127.0.0.1, with a private redis-server. For each embedder configuration:
#   1. register AGENTS agents (1-3 varied needs each) on project "bench", publish 328 base
#      keys; then REPEAT runs of publish -> notify latency (engine_bench.py notify):
#      "cold" = new node texts every publish (embedding included), "warm" = texts already
#      in the embedding cache (no inference: engine + storage + notify only);
#      received through Redis PSUBSCRIBE agent:*:updates and SSE_AGENTS SSE streams;
#   2. query latency: wrk, 2 threads, 16 connections, 32 repeating queries (warm cache);
#   3. publish throughput: wrk, 2 threads, 4 connections, NODES-node publishes, new texts,
#      on "bench" (1000 agents: matching + notifications) and "solo" (no agents).
# Prints JSON lines and a summary (medians of REPEAT runs, load average per run).
#   bench/engine/run.sh [contex-binary]
#   env: CONFIGS="lexical minilm" REPEAT=3 PUBLISHES=40 DURATION=10 AGENTS=1000
#        SSE_AGENTS=100 NODES=10 MINILM_DIR=<dir> (made with bench/embed/make_minilm_random.py)
#        MINILM_THRESHOLD=0.95
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/bench/engine
PY=/usr/bin/python3
CONFIGS=${CONFIGS:-lexical minilm}
REPEAT=${REPEAT:-3}
PUBLISHES=${PUBLISHES:-40}
DURATION=${DURATION:-10}
AGENTS=${AGENTS:-1000}
SSE_AGENTS=${SSE_AGENTS:-100}
export NODES=${NODES:-10}
work=$(mktemp -d /tmp/contex-bench-engine.XXXXXX)
# Copy the binary: build/release may be rebuilt while this runs.
cp "${1:-$ROOT/build/release/src/cli/contex}" "$work/contex"
MINILM_DIR=${MINILM_DIR:-$work/minilm}
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
loadavg() { cut -d' ' -f1 /proc/loadavg; }

stop_all() {
  [[ -n "${CONTEX_PID:-}" ]] && kill "$CONTEX_PID" 2>/dev/null && wait "$CONTEX_PID" 2>/dev/null || true
  CONTEX_PID=
  [[ -f "$work/redis.pid" ]] && kill "$(cat "$work/redis.pid")" 2>/dev/null || true
  rm -f "$work/redis.pid"
}
trap 'stop_all; rm -rf "$work"' EXIT

echo "== $(date -u +%FT%TZ) nproc=$(nproc) cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs) load=$(cut -d' ' -f1-3 /proc/loadavg)"
results=$work/results.jsonl
for cfg in $CONFIGS; do
  env_cfg=(EMBEDDING_PROVIDER=lexical)
  if [[ $cfg == minilm ]]; then
    [[ -f $MINILM_DIR/model.safetensors ]] ||
      $PY "$ROOT/bench/embed/make_minilm_random.py" "$ROOT/../shared/models/all-MiniLM-L6-v2" "$MINILM_DIR" >/dev/null
    # Random weights put every cosine at 0.87-0.90, so the default threshold 0.5 would
    # match every need to every node; 0.95 leaves matching to BM25 (KEYWORD_THRESHOLD).
    env_cfg=(EMBEDDING_PROVIDER=local EMBEDDING_MODEL="$MINILM_DIR" SIMILARITY_THRESHOLD=${MINILM_THRESHOLD:-0.95})
  fi
  RPORT=$(free_port); CPORT=$(free_port); URL=http://127.0.0.1:$CPORT
  redis-server --port "$RPORT" --bind 127.0.0.1 --daemonize yes --save '' --appendonly no \
    --pidfile "$work/redis.pid" --logfile "$work/redis.log"
  rm -rf "$work/data-$cfg"
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "${env_cfg[@]}" PORT=$CPORT BIND_ADDRESS=127.0.0.1 \
    CONTEX_DATA_DIR="$work/data-$cfg" REDIS_URL=redis://127.0.0.1:$RPORT LOG_LEVEL=WARNING \
    "$work/contex" serve >"$work/contex-$cfg.log" 2>&1 &
  CONTEX_PID=$!
  for _ in $(seq 600); do curl -sf "$URL/api/v1/health/ready" >/dev/null && break; sleep 0.2; done
  curl -sf "$URL/api/v1/health/ready" >/dev/null || { cat "$work/contex-$cfg.log"; exit 1; }
  echo "== $cfg: $(curl -s "$URL/metrics" | grep '^contex_embedding_model_info')"
  echo "== $cfg setup: $($PY "$HERE/engine_bench.py" setup "$URL" bench "$AGENTS")"

  for r in $(seq "$REPEAT"); do
    for mode in cold warm; do
      l0=$(loadavg)
      line=$($PY "$HERE/engine_bench.py" notify "$URL" bench "$RPORT" "$PUBLISHES" "$mode" "$SSE_AGENTS")
      echo "{\"config\":\"$cfg\",\"bench\":\"notify\",\"run\":$r,\"load\":[$l0,$(loadavg)],${line#\{}" | tee -a "$results"
    done
  done

  wrk -t2 -c16 -d3s -s "$HERE/query.lua" "$URL" >/dev/null 2>&1  # warm-up: fill the query cache
  for r in $(seq "$REPEAT"); do
    l0=$(loadavg)
    wrk -t2 -c16 -d"${DURATION}s" --latency -s "$HERE/query.lua" "$URL" 2>/dev/null | awk -v cfg="$cfg" -v r="$r" -v l0="$l0" -v l1="$(loadavg)" '
      function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
      /Requests\/sec/ {rps=$2} $1=="50%" {p50=ms($2)} $1=="99%" {p99=ms($2)} $1=="non200" {bad=$2}
      END {printf "{\"config\":\"%s\",\"bench\":\"query\",\"run\":%d,\"load\":[%s,%s],\"rps\":%s,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"non200\":%d}\n", cfg, r, l0, l1, rps, p50, p99, bad}' |
      tee -a "$results"
  done

  notified() { curl -s "$URL/metrics" | awk '/^contex_notifications_total\{transport="redis",type="data_update"/ {s+=$2} END {print s+0}'; }
  for project in bench solo; do  # solo: a project without agents (no matching, no notifications)
    for r in $(seq "$REPEAT"); do
      l0=$(loadavg); n0=$(notified)
      out=$(PROJECT=$project wrk -t2 -c4 -d"${DURATION}s" --timeout 60s --latency -s "$HERE/publish.lua" "$URL" 2>/dev/null)
      n1=$(notified)
      awk -v cfg="$cfg" -v r="$r" -v l0="$l0" -v l1="$(loadavg)" -v project="$project" -v notified=$((n1 - n0)) '
        function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
        /requests in/ {reqs=$1} /Requests\/sec/ {rps=$2} $1=="50%" {p50=ms($2)} $1=="99%" {p99=ms($2)} $1=="nodes" {nodes=$2; bad=$4; secs=$6}
        END {printf "{\"config\":\"%s\",\"bench\":\"throughput-%s\",\"run\":%d,\"load\":[%s,%s],\"publishes_per_s\":%s,\"nodes_per_s\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"non200\":%d,\"notified_per_publish\":%.1f}\n", cfg, project, r, l0, l1, rps, nodes/secs, p50, p99, bad, notified/(reqs>0?reqs:1)}' <<<"$out" |
        tee -a "$results"
    done
  done
  stop_all
done

echo "== summary (median of $REPEAT runs)"
$PY "$HERE/summarize.py" "$results"
