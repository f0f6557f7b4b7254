#!/usr/bin/env bash
# wrk against contex /health and /api/v1/health, next to nginx serving the same small
# JSON as a static file (the reference), in the same run. 1 and 2 wrk threads, REPEAT
# runs each, medians printed as a markdown table.
#   bench/http/run.sh [contex-binary]      (DURATION=10 CONNECTIONS=64 REPEAT=3)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${1:-$ROOT/build/release/src/cli/contex}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
REPEAT=${REPEAT:-3}
work=$(mktemp -d /tmp/contex-bench-http.XXXXXX)
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

cleanup() {
  [[ -n "${CONTEX_PID:-}" ]] && kill "$CONTEX_PID" 2>/dev/null || true
  [[ -f "$work/nginx.pid" ]] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  sleep 0.5; rm -rf "$work"
}
trap cleanup EXIT

CPORT=$(free_port); NPORT=$(free_port)
PORT=$CPORT BIND_ADDRESS=127.0.0.1 CONTEX_DATA_DIR=$work/data LOG_LEVEL=WARNING \
  "$BIN" serve >"$work/contex.log" 2>&1 &
CONTEX_PID=$!

mkdir -p "$work/www/api/v1"
printf '{"status":"healthy","service":"contex","version":"1.0.0"}' >"$work/www/health"
cp "$work/www/health" "$work/www/api/v1/health"
cat >"$work/nginx.conf" <<CONF
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/tmp; proxy_temp_path $work/tmp; fastcgi_temp_path $work/tmp;
  uwsgi_temp_path $work/tmp; scgi_temp_path $work/tmp;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:$NPORT; root $work/www; default_type application/json; }
}
CONF
mkdir -p "$work/tmp"
nginx -c "$work/nginx.conf"
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$CPORT/health" >/dev/null && break; sleep 0.1; done

run_wrk() {  # url threads -> "rps p50_ms p99_ms"
  wrk -t"$2" -c"$CONNECTIONS" -d"${DURATION}s" --latency "$1" 2>/dev/null | awk '
    /Requests\/sec/ {rps=$2}
    function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
    $1=="50%" {p50=ms($2)} $1=="99%" {p99=ms($2)}
    END {printf "%s %.3f %.3f\n", rps, p50, p99}'
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "| target | path | wrk threads | req/s (median of $REPEAT) | p50 ms | p99 ms |"
echo "|---|---|---|---|---|---|"
for path in /health /api/v1/health; do
  for threads in 1 2; do
    for target in contex nginx; do
      port=$CPORT; [[ $target == nginx ]] && port=$NPORT
      : >"$work/runs"
      for _ in $(seq "$REPEAT"); do run_wrk "http://127.0.0.1:$port$path" "$threads" >>"$work/runs"; done
      rps=$(awk '{print $1}' "$work/runs" | median)
      p50=$(awk '{print $2}' "$work/runs" | median)
      p99=$(awk '{print $3}' "$work/runs" | median)
      echo "| $target | $path | $threads | $rps | $p50 | $p99 |"
    done
  done
done
