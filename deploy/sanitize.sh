#!/usr/bin/env bash
# Builds batchd with sanitizers and runs its tests under them (CI runs it from deploy/test.sh):
#   asan  clang AddressSanitizer + UndefinedBehaviorSanitizer (+ LeakSanitizer): every unit and
#         integration test (not the Python, lint, bench or reliability tests). The same build
#         holds the libFuzzer targets (tests/fuzz/run_fuzzers.sh build/asan SECONDS).
#   tsan  ThreadSanitizer: the scheduler and worker tests
#   all   both (the default)
# Usage: deploy/sanitize.sh [asan|tsan|all] [extra ctest args]
# Build dirs: build/asan and build/tsan (the presets'), or $BATCHD_SANITIZE_BUILD_ROOT/{asan,tsan}.
#
# Any sanitizer report fails the run, also one from a process a test started (batchd,
# batchctl, batchd_test_worker) that the test did not notice: every sanitized process writes
# its reports to <build>/sanitizer-reports/<sanitizer>.<exe>.<pid>; they are printed at the end.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

mode="${1:-all}"
[[ $# -gt 0 ]] && shift
case "$mode" in
  asan | tsan) modes=("$mode") ;;
  all) modes=(asan tsan) ;;
  *) echo "usage: $0 [asan|tsan|all] [extra ctest args]" >&2; exit 2 ;;
esac
build_root="${BATCHD_SANITIZE_BUILD_ROOT:-$repo/build}"
jobs="${JOBS:-2}"

# TSan: unit tests of the scheduler, worker hub, worker executor (in worker_hub_test), load
# balancer, the journal's writer thread (group commit), the http executor's connection pool
# (shared by requests on several threads) and the client's worker session and outbox; the
# integration suites that drive them. Not the HTTP API suite: under TSan, gRPC's in-process
# channel (server/http/rpc_bridge.cc) hands request, response and status buffers between the
# client and server sides inside uninstrumented libgrpc, and each run reported another such
# hand-off as a race (5 kinds in 4 runs, none in batchd's own code).
tsan_targets=(core_scheduler_test core_worker_hub_test core_load_balancer_test
              core_group_commit_journal_test core_connection_pool_test core_http_executor_test
              client_worker_outbox_test client_worker_session_test
              scheduling_end_to_end_test worker_protocol_test worker_process_test)
tsan_tests="^($(IFS='|'; echo "${tsan_targets[*]}"))\\."

sanitizer_env() {  # mode reports_dir
  local reports="$2"
  local common="halt_on_error=1:exitcode=66:log_exe_name=1:log_path=$reports/$1"
  if [[ $1 == asan ]]; then
    export ASAN_OPTIONS="$common:detect_leaks=1:abort_on_error=0:strict_init_order=1"
    export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:exitcode=66:log_exe_name=1:log_path=$reports/ubsan"
    export LSAN_OPTIONS="suppressions=$repo/tests/sanitizers/lsan.supp:print_suppressions=0"
  else
    export TSAN_OPTIONS="$common:second_deadlock_stack=1:suppressions=$repo/tests/sanitizers/tsan.supp:print_suppressions=0"
  fi
}

# Prints every report file and returns 1 if there is any.
check_reports() {  # reports_dir
  local files=()
  mapfile -t files < <(find "$1" -type f -size +0 | sort)
  ((${#files[@]} == 0)) && return 0
  echo "sanitize: ${#files[@]} sanitizer report file(s) in $1:"
  for f in "${files[@]}"; do
    echo "=== $f"
    head -c 20000 "$f"
  done
  return 1
}

run_mode() {  # mode [extra ctest args]
  local mode="$1"
  shift
  local dir="$build_root/$mode"
  local reports="$dir/sanitizer-reports"
  local start build_end test_end status=0
  start=$(date +%s)

  # (set -e does not apply inside a function called from `||`: every step checks its status.)
  cmake --preset "$mode" -B "$dir" >/dev/null || return 1
  rm -rf "$reports" && mkdir -p "$reports"
  sanitizer_env "$mode" "$reports"  # gtest_discover_tests runs the test binaries while building
  local targets=(all)
  [[ $mode == tsan ]] && targets=("${tsan_targets[@]}")
  cmake --build "$dir" -j "$jobs" --target "${targets[@]}" -- -k 0 2>&1 \
    | grep -vE '^\[[0-9]+/[0-9]+\] ' || true
  # Fails loudly if the build above did not finish.
  cmake --build "$dir" -j "$jobs" --target "${targets[@]}" || return 1
  build_end=$(date +%s)

  local select=(-L '^(unit|integration)$' -E '^python_')
  [[ $mode == tsan ]] && select=(-R "$tsan_tests")
  echo "sanitize: $mode: running tests"
  (cd "$dir" && ctest --output-on-failure --timeout 600 -j "$jobs" "${select[@]}" "$@" 2>&1 \
    | tee ctest.log; exit "${PIPESTATUS[0]}") || status=1
  check_reports "$reports" || status=1
  test_end=$(date +%s)
  echo "sanitize: $mode: build $((build_end - start)) s, tests $((test_end - build_end)) s," \
       "$([[ $status == 0 ]] && echo passed || echo FAILED)"
  return $status
}

overall=0
for m in "${modes[@]}"; do
  run_mode "$m" "$@" || overall=1
done
exit $overall
