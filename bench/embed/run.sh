#!/bin/bash
# Embedding runtime benchmark (issue 4): native runtime vs PyTorch on a random-weight
# model of the all-MiniLM-L6-v2 shape, identical token ids, 1 and 2 threads.
#
#   bench/embed/run.sh BUILD_DIR     # a Release build dir that built embed_native_bench
#
# Prints one JSON line per configuration plus '#' lines with the machine load; record the
# figures in bench/RESULTS.md ("Embedding runtime"). The model is written to a temp dir.
#
# Both sides run with OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset. On these VMs OpenBLAS
# then detects the CPU as "Prescott" (SSE3 kernels, ~23 GFLOP/s), so PyTorch is also run
# with each core type in TORCH_OPENBLAS_CORETYPES (default "SkylakeX", ~88 GFLOP/s): the
# fastest PyTorch is the baseline. TORCH_SKIP_DEFAULT=1 skips the unset-core-type run.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:?usage: run.sh BUILD_DIR}
bin="$build/src/embed/native/embed_native_bench"
coretypes=${TORCH_OPENBLAS_CORETYPES-SkylakeX}
work=$(mktemp -d /tmp/contex-embed-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 "$root/bench/embed/make_minilm_random.py" \
  "$root/../shared/models/all-MiniLM-L6-v2" "$work/model"
run() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$@"; }
load() { echo "# $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)"; }
torch() {
  if [ -z "${TORCH_SKIP_DEFAULT:-}" ]; then
    run /usr/bin/python3 "$root/bench/embed/torch_bench.py" "$work/model" "$1" 32 3 30
  fi
  for c in $coretypes; do
    echo "# OPENBLAS_CORETYPE=$c"
    env -u OPENBLAS_L2_SIZE OPENBLAS_CORETYPE="$c" \
      /usr/bin/python3 "$root/bench/embed/torch_bench.py" "$work/model" "$1" 32 3 30
  done
}
echo "# nproc $(nproc); cpu $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
for threads in 1 2; do
  load
  # Throughput: `threads` workers; latency: one call with a team of `threads` members.
  run "$bin" "$work/model" fp32 "$threads"
  run "$bin" "$work/model" int8 "$threads"
  torch "$threads"
done
load
