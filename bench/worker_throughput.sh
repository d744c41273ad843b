#!/usr/bin/env bash
# Callback-worker throughput: batchd + one noop_worker connection (answers at once) +
# worker_bench submitting 100,000 no-op tasks with ProcessBatch. Usage:
#   bench/worker_throughput.sh [BUILD_DIR] [TASKS] [SLOTS]
# Target (issue 5): >= 100,000 tasks/s end to end.
set -euo pipefail
build=${1:-build/release}
tasks=${2:-100000}
slots=${3:-4096}
log=$(mktemp)
data=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$log" "$data"' EXIT
"$build/server/batchd" --listen=127.0.0.1:0 --data-dir="$data" --log-level=warn \
  --max-running=$slots ${BATCHD_FLAGS:-} >"$log" 2>&1 &
for _ in $(seq 100); do grep -q "listening on" "$log" && break; sleep 0.1; done
addr=$(sed -n 's/^batchd listening on //p' "$log" | head -1)
[[ -n "$addr" ]] || { echo "batchd did not start"; cat "$log"; exit 1; }
"$build/bench/noop_worker" --addr "$addr" --executor noop --slots "$slots" >/dev/null 2>&1 &
"$build/bench/worker_bench" --addr "$addr" --executor noop --tasks "$tasks" \
  --max-concurrent "$slots" --runs 3
