#!/usr/bin/env bash
# Runs every benchmark of issue 7 (batchd against sequential execution and its peers) and
# writes bench/results/latest.json, latest.md and PNG plots; a full run also refreshes the
# table in bench/README.md. One command on a machine set up by deploy/install-deps.sh:
#
#   bench/run.sh            full run: median of 5 runs per figure (about 20 min on 2 cores)
#   bench/run.sh --quick    every workload once at tiny sizes (< 60 s), into bench/results/quick/
#
# Options: --build-dir DIR  use (and build in) DIR instead of the release preset's build/release
#          --no-build       use the binaries already in the build dir (ctest does this)
#          --out DIR        write the results there instead
#          --runs N         runs per figure (default 5, quick 1)
#          --only w1,w8     run only these workloads (w1 no-op ... w7 peers, w8 durability;
#                           README unchanged)
#          --batchd PATH    benchmark this daemon binary instead of BUILD_DIR/server/batchd
# Servers (batchd, redis-server, Dask) listen on loopback only and are stopped on exit.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir=""
build=1
pass=()
while (($#)); do
  case "$1" in
    --build-dir) build_dir="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    --quick) pass+=("$1"); shift ;;
    --out | --runs | --only | --batchd) pass+=("$1" "$2"); shift 2 ;;
    -h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

targets=(batchd batch_load scheduler_bench worker_bench noop_worker)
if [[ -z $build_dir ]]; then
  build_dir="$repo/build/release"
  if ((build)); then
    (cd "$repo" && cmake --preset release >/dev/null)
  fi
fi
if ((build)); then
  [[ -f $build_dir/CMakeCache.txt ]] ||
    cmake -S "$repo" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  # The Python SDK's generated stubs, for the Python worker of workload 6, where it exists.
  build_targets=$(cmake --build "$build_dir" --target help 2>/dev/null || true)
  if grep -q '^batchd_python_stubs:' <<<"$build_targets"; then
    targets+=(batchd_python_stubs)
  fi
  echo "[bench] building ${targets[*]} in $build_dir"
  cmake --build "$build_dir" --target "${targets[@]}" | grep -vE '^\[[0-9]+/[0-9]+\] ' || true
  cmake --build "$build_dir" --target "${targets[@]}" >/dev/null  # fails loudly if it did not
fi

for tool in /usr/bin/python3 redis-server xargs parallel make; do
  command -v "$tool" >/dev/null || {
    echo "bench/run.sh: $tool is missing: run deploy/install-deps.sh" >&2
    exit 1
  }
done
exec /usr/bin/python3 "$repo/bench/run_all.py" --build-dir "$build_dir" "${pass[@]}"
