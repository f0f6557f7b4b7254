#!/usr/bin/env bash
# Issue 8 fault test at scale: N trials per backend of "receiver down, server SIGKILLed
# mid-retry, restart, receiver back" (tests/e2e/test_webhooks.py::run_fault_trial), each
# checking that every delivery arrives at least once and duplicates share their webhook-id.
#   bench/webhook/fault_trials.sh [trials=50]
# Starts throwaway PostgreSQL + Redis (scripts/services) for the postgres half.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
TRIALS=${1:-50}
export CONTEX_BINARY=${CONTEX_BINARY:-$PWD/build/release/src/cli/contex}
eval "$(scripts/services start)"
trap '"$ROOT/scripts/services" stop "$CONTEX_SERVICES_DIR"' EXIT
cd tests/e2e
/usr/bin/python3 - "$TRIALS" <<'PY'
import sys, tempfile, time
from test_webhooks import run_fault_trial

trials = int(sys.argv[1])
for kind in ["sqlite", "postgres"]:
    started = time.time()
    lost = messages = duplicates = failures = 0
    for t in range(trials):
        with tempfile.TemporaryDirectory(prefix="contex-fault-") as d:
            try:
                expected, delivered, dup = run_fault_trial(kind, d)
            except AssertionError as e:
                failures += 1
                print(f"{kind} trial {t}: FAILED {str(e)[:300]}", flush=True)
                continue
        messages += expected
        lost += expected - delivered
        duplicates += dup
    print(f"{kind}: {trials} trials, {messages} messages, {lost} lost, {failures} failed trials, "
          f"{duplicates} duplicate deliveries (same webhook-id), {time.time() - started:.0f} s",
          flush=True)
PY
