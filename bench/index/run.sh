#!/bin/bash
# Index benchmarks next to their baselines, on the same vectors, in one run.
# Usage (repo root): bench/index/run.sh [N ...]        default: 10000 100000
# Needs a Release build: cmake -B build/h-index-rel -DCMAKE_BUILD_TYPE=Release ... &&
# ninja -C build/h-index-rel index_benchmark. Env: CONTEX_INDEX_BENCH_DATA (dataset dir),
# CONTEX_INDEX_BENCH_QUERIES (queries per size, default 1000), REPS (default 3).
set -euo pipefail
DATA=${CONTEX_INDEX_BENCH_DATA:-build/h-index-data}
QUERIES=${CONTEX_INDEX_BENCH_QUERIES:-1000}
REPS=${REPS:-3}
BIN=${BIN:-build/h-index-rel/src/index/index_benchmark}
SIZES=("$@")
[ ${#SIZES[@]} -eq 0 ] && SIZES=(10000 100000)
export CONTEX_INDEX_BENCH_DATA=$DATA CONTEX_INDEX_BENCH_QUERIES=$QUERIES
# OpenBLAS is slowed by these machine-wide settings; unset them for benchmarks only.
RUN="env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE nice"

echo "# $(date -u +%FT%TZ) nproc=$(nproc) cpu=$(lscpu | sed -n 's/^Model name: *//p')"
for n in "${SIZES[@]}"; do
  [ -f "$DATA/base_$n.f32" ] || $RUN /usr/bin/python3 bench/index/make_data.py "$DATA" "$n"
  for rep in $(seq "$REPS"); do
    $RUN /usr/bin/python3 bench/index/baseline.py "$DATA" "$n" --queries "$QUERIES" --ef 128,64,256 \
        ${BASELINE_ARGS:-}
    $RUN "$BIN" --benchmark_filter="BM_(Exact|Hnsw)Top10/$n/" --benchmark_format=console \
        --benchmark_counters_tabular=true
  done
done
