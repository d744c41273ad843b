#!/usr/bin/env bash
# Runs every libFuzzer target of a fuzz build for SECONDS_EACH seconds, one after the other,
# each on a temporary copy of its seed corpus (tests/fuzz/corpus/ is never written). Prints each
# target's executions and a total line; exits non-zero if any target crashed (or is missing),
# printing the path of the saved crash input.
#
# Usage: tests/fuzz/run_fuzzers.sh BUILD_DIR SECONDS_EACH      (e.g. build/asan 60)
#   after: cmake --preset asan && cmake --build --preset asan
# A crash input reproduces with: BUILD_DIR/tests/fuzz/<target>_fuzzer <crash file>; add it to
# tests/fuzz/corpus/<target>/ with the fix, so the normal build replays it from then on.
set -euo pipefail

if [[ $# -ne 2 || ! $2 =~ ^[0-9]+$ ]]; then
  echo "usage: $0 BUILD_DIR SECONDS_EACH" >&2
  exit 2
fi
build_dir=$1
seconds=$2
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# Every target has a seed corpus directory (its replay test needs one): they name the targets.
targets=()
for dir in "$here"/corpus/*/; do targets+=("$(basename "$dir")"); done

work="$(mktemp -d "${TMPDIR:-/tmp}/batchd-fuzz.XXXXXX")"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"

total=0
failed=()
for target in "${targets[@]}"; do
  binary="$build_dir/tests/fuzz/${target}_fuzzer"
  if [[ ! -x $binary ]]; then
    echo "fuzz $target: MISSING $binary"
    failed+=("$target")
    continue
  fi
  corpus="$work/corpus/$target"
  artifacts="$work/crashes/$target"
  mkdir -p "$corpus" "$artifacts"
  cp -R "$here/corpus/$target/." "$corpus/"
  log="$work/$target.log"
  rc=0
  # A fixed seed (BATCHD_FUZZ_SEED, default 1) makes a CI run repeatable by hand.
  "$binary" -seed="${BATCHD_FUZZ_SEED:-1}" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "$corpus" >"$log" 2>&1 || rc=$?
  execs="$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)"
  execs=${execs:-0}
  total=$((total + execs))
  if [[ $rc -eq 0 ]]; then
    echo "fuzz $target: ok, $execs executions in ${seconds}s, corpus $(ls "$corpus" | wc -l) inputs"
  else
    echo "fuzz $target: FAILED (exit $rc) after $execs executions; log: $log"
    grep -E 'ERROR: |FUZZ_CHECK failed|runtime error|SUMMARY' "$log" | head -n 10 || true
    for crash in "$artifacts"/*; do
      # Base64 too, so an input found in CI can be reproduced from the log alone.
      [[ -e $crash ]] && echo "fuzz $target: crash input $crash (base64: $(base64 -w0 "$crash"))"
    done
    failed+=("$target")
  fi
done

echo "fuzz total: $total executions, ${#targets[@]} targets x ${seconds}s, ${#failed[@]} failed"
if ((${#failed[@]})); then
  echo "fuzz: failed targets: ${failed[*]} (logs and crash inputs kept in $work)"
  exit 1
fi
rm -rf "$work"
