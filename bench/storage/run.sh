#!/usr/bin/env bash
# Storage benchmarks (issue 6): appends/s with 1 and 8 writers, 5-node publishes, and the
# time to stream 100k stored 384-dim embeddings, on SQLite and PostgreSQL; then the long
# SIGKILL crash run (CRASH_TRIALS per backend, default 1000).
#
#   bench/storage/run.sh            # starts throwaway PostgreSQL via scripts/services
#   CONTEX_BENCH_POSTGRES_URL=postgresql://... bench/storage/run.sh   # use that server
#
# Builds a Release tree under build/bench-storage. Prints the raw figures; copy the medians
# into bench/RESULTS.md (section "Storage (issue 6)").
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build/bench-storage}
REPS=${REPS:-5}
CRASH_TRIALS=${CRASH_TRIALS:-1000}

cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCONTEX_ONLY="common;observability;storage" >/dev/null
ninja -C "$BUILD" -j2 storage_benchmark storage_crash_test storage_test_writer >/dev/null

if [[ -z "${CONTEX_BENCH_POSTGRES_URL:-}" ]]; then
  eval "$(scripts/services start)"
  trap 'scripts/services stop "$CONTEX_SERVICES_DIR"' EXIT
  export CONTEX_BENCH_POSTGRES_URL=$CONTEX_TEST_POSTGRES_URL
fi

echo "== $(date -u +%FT%TZ) nproc=$(nproc) cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "== PostgreSQL settings: $(psql "$CONTEX_BENCH_POSTGRES_URL" -Atc "select string_agg(name||'='||setting, ' ') from pg_settings where name in ('fsync','synchronous_commit','full_page_writes','shared_buffers')")"
"$BUILD/src/storage/storage_benchmark" --benchmark_repetitions="$REPS" \
  --benchmark_report_aggregates_only=true --benchmark_counters_tabular=true

echo "== crash trials ($CRASH_TRIALS per backend)"
CONTEX_TEST_POSTGRES_URL=$CONTEX_BENCH_POSTGRES_URL CONTEX_STORAGE_CRASH_TRIALS=$CRASH_TRIALS \
  "$BUILD/src/storage/storage_crash_test" | grep -E 'crash-trials|trial [0-9]+:|OK|FAILED'
