#!/usr/bin/env bash
# Interleaved A/B of two batchd binaries on one machine in one run: workload 3's batch
# (2,000 x sleep 10 ms at max_concurrent 1000, 15 runs a round) and workload 1's (100,000 echo,
# 2 runs a round), 4 rounds with the order swapped every round, both daemons up throughout.
# Prints each run's JSON line (bench/batch_load) prefixed "before|after sleep|echo", then medians.
#   bench/ab_sleep_noop.sh BEFORE_BINARY AFTER_BINARY [BUILD_DIR]   (BUILD_DIR: build/release)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
before=${1:?before binary}; after=${2:?after binary}
load="${3:-$repo/build/release}/bench/batch_load"
declare -A addr pid bin=([before]=$before [after]=$after)
work=$(mktemp -d)
trap 'kill "${pid[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
for w in before after; do
  mkdir -p "$work/$w"
  "${bin[$w]}" --listen=127.0.0.1:0 --data-dir="$work/$w" --max-running=1024 --log-level=warn \
    >"$work/$w.out" 2>"$work/$w.err" &
  pid[$w]=$!
  for _ in $(seq 100); do [[ -s $work/$w.out ]] && break; sleep 0.1; done
  addr[$w]=$(sed 's/.*on //' "$work/$w.out")
done
for round in 1 2 3 4; do
  order=(before after); ((round % 2 == 0)) && order=(after before)
  for w in "${order[@]}"; do
    "$load" --addr "${addr[$w]}" --workload sleep --tasks 2000 --sleep-ms 10 --max-concurrent 1000 \
      --runs 15 --warmup 1 --daemon-pid "${pid[$w]}" | sed "s/^/$w sleep /"
    "$load" --addr "${addr[$w]}" --workload echo --tasks 100000 --runs 2 --warmup 1 \
      --daemon-pid "${pid[$w]}" | sed "s/^/$w echo /"
  done
done | tee "$work/log"
/usr/bin/python3 - "$work/log" <<'PY'
import json, statistics as st, sys
rows = {}
for line in open(sys.argv[1]):
    who, kind, rest = line.split(" ", 2)
    rows.setdefault((who, kind), []).append(json.loads(rest))
def fmt(v, f): return f"{f % st.median(v)} ({f % min(v)}-{f % max(v)})"
for (who, kind), rs in sorted(rows.items()):
    if kind == "sleep":
        print(who, "sleep@1000 efficiency end to end", fmt([0.02 / r["wall_s"] for r in rs], "%.3f"),
              "in daemon", fmt([20 / r["batch_ms"] for r in rs], "%.3f"))
    else:
        print(who, "no-op tasks/s", fmt([r["tasks"] / r["wall_s"] for r in rs], "%.0f"),
              "daemon CPU us/task", fmt([r["daemon_cpu_s"] / r["tasks"] * 1e6 for r in rs], "%.2f"))
PY
