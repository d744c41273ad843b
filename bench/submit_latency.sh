#!/usr/bin/env bash
# Latency of a one-task batch end to end (SubmitBatch, then StreamResults to its end) with the
# default journal (--durability=normal), for one or more batchd binaries in turn, so a change to
# admission can be compared with the binary before it in one run:
#   bench/submit_latency.sh [--runs N] BATCHD [BATCHD...]
# Prints, per binary, the median and p90 of batch_load's wall time per batch over N runs (300).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs=300
if [[ ${1:-} == --runs ]]; then runs=$2; shift 2; fi
(($#)) || { sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
load="$repo/build/release/bench/batch_load"
for bin in "$@"; do
  work=$(mktemp -d)
  "$bin" --listen=127.0.0.1:0 --data-dir="$work/data" --log-level=warn >"$work/out" 2>"$work/err" &
  pid=$!
  for _ in $(seq 100); do grep -q listening "$work/out" && break; sleep 0.1; done
  addr=$(sed -n 's/batchd listening on //p' "$work/out")
  "$load" --addr "$addr" --workload echo --tasks 1 --runs "$runs" --warmup 20 >"$work/runs.jsonl"
  kill "$pid"
  wait "$pid" || true
  /usr/bin/python3 - "$bin" "$work/runs.jsonl" <<'PY'
import json, statistics, sys
walls = sorted(json.loads(line)["wall_s"] * 1e3 for line in open(sys.argv[2]))
p90 = walls[int(len(walls) * 0.9) - 1]
print(f"{sys.argv[1]}: one-task batch end to end: median {statistics.median(walls):.3f} ms, "
      f"p90 {p90:.3f} ms over {len(walls)} runs")
PY
  rm -rf "$work"
done
