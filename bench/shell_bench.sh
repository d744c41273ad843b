#!/usr/bin/env bash
# Process-spawning throughput of the shell executor against the usual tools, on the same
# machine in the same run: N runs of `true` at concurrency C through the daemon (one batch,
# max_concurrent C, submitted with `batchctl run`), vs `xargs -P C -n 1 true` and, when
# installed, GNU parallel (not installed for you: it is skipped with a note). Rounds alternate
# between the tools so a load change on a shared machine hits all of them; the best round of
# each is compared. Target: batchd / xargs <= 1.2.
#
# usage: bench/shell_bench.sh BATCHD BATCHCTL [RUNS=1000] [CONCURRENCY=2] [ROUNDS=3]
#   e.g. bench/shell_bench.sh build/release/server/batchd build/release/client/batchctl/batchctl
set -euo pipefail

if [[ $# -lt 2 ]]; then
  sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
batchd=$1
batchctl=$2
runs=${3:-1000}
concurrency=${4:-2}
rounds=${5:-3}

tmp=$(mktemp -d)
daemon_pid=
cleanup() {
  if [[ -n $daemon_pid ]]; then
    kill "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# The batch: RUNS independent shell tasks running `true` (looked up in PATH, as xargs does).
{
  printf '{"options": {"maxConcurrent": %d}, "tasks": [' "$concurrency"
  for ((i = 0; i < runs; i++)); do
    ((i > 0)) && printf ','
    printf '{"id": "t%06d", "executor": "shell", "input": {"argv": ["true"]}}' "$i"
  done
  printf ']}\n'
} >"$tmp/batch.json"

"$batchd" --listen=127.0.0.1:0 --data-dir="$tmp/data" --enable-shell --log-level=warn >"$tmp/daemon.out" \
  2>"$tmp/daemon.err" &
daemon_pid=$!
address=
for _ in $(seq 200); do
  address=$(sed -n 's/^batchd listening on //p' "$tmp/daemon.out")
  [[ -n $address ]] && break
  sleep 0.05
done
if [[ -z $address ]]; then
  echo "batchd did not start:" >&2
  cat "$tmp/daemon.err" >&2
  exit 1
fi

now() { date +%s.%N; }
# Seconds the command took.
timed() {
  local start end
  start=$(now)
  "$@" >/dev/null
  end=$(now)
  echo "$end - $start" | bc -l
}

run_batchd() { "$batchctl" --addr "$address" run "$tmp/batch.json"; }
run_xargs() { seq "$runs" | xargs -P "$concurrency" -n 1 true; }
run_parallel() { seq "$runs" | parallel -j "$concurrency" -n 1 true; }

have_parallel=0
command -v parallel >/dev/null && have_parallel=1

best_batchd=
best_xargs=
best_parallel=
min() { if [[ -z $1 ]] || (($(echo "$2 < $1" | bc -l))); then echo "$2"; else echo "$1"; fi; }

echo "$runs runs of 'true' at concurrency $concurrency, $rounds rounds ($(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg))"
run_batchd >/dev/null  # warm-up: first gRPC connection, page cache
for ((r = 1; r <= rounds; r++)); do
  t_batchd=$(timed run_batchd)
  t_xargs=$(timed run_xargs)
  line=$(printf 'round %d: batchd %.3f s  xargs %.3f s' "$r" "$t_batchd" "$t_xargs")
  best_batchd=$(min "$best_batchd" "$t_batchd")
  best_xargs=$(min "$best_xargs" "$t_xargs")
  if ((have_parallel)); then
    t_parallel=$(timed run_parallel)
    best_parallel=$(min "$best_parallel" "$t_parallel")
    line+=$(printf '  parallel %.3f s' "$t_parallel")
  fi
  echo "$line"
done

printf 'best: batchd %.3f s (%.0f runs/s)  xargs %.3f s (%.0f runs/s)\n' \
  "$best_batchd" "$(echo "$runs / $best_batchd" | bc -l)" \
  "$best_xargs" "$(echo "$runs / $best_xargs" | bc -l)"
if ((have_parallel)); then
  printf 'best: parallel %.3f s\n' "$best_parallel"
else
  echo "GNU parallel: not installed, skipped (Debian package 'parallel')"
fi
printf 'ratio batchd/xargs: %.2f (target <= 1.2)\n' "$(echo "$best_batchd / $best_xargs" | bc -l)"
