#!/usr/bin/env bash
# Installs everything batchd needs, builds it and runs every test. CI runs this through .ci/run.
# Usage: deploy/test.sh [extra ctest args for the release stage]
#
# Stages (each runs even if an earlier one failed; the exit status is non-zero if any failed):
#   release  the release preset (what ships): every ctest test (unit, integration, lint, python,
#            reliability: crash test and 60 s soak, bench smoke).
#   asan     deploy/sanitize.sh asan: clang ASan + UBSan + LSan build, unit and integration tests.
#   fuzz     the libFuzzer targets of that same build, BATCHD_FUZZ_SECONDS (30) each, fixed seed.
#   tsan     deploy/sanitize.sh tsan: ThreadSanitizer, the scheduler and worker tests.
# BATCHD_SANITIZE=0 skips asan, fuzz and tsan; BATCHD_FUZZ_SECONDS=0 skips fuzz.
set -uo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

./deploy/install-deps.sh || exit 1

declare -a summary=()
failed=0
stage_start=0
begin() { stage_start=$(date +%s); echo "=== test.sh: stage $1"; }
end() {  # name status detail
  local verdict=passed
  if [[ $2 != 0 ]]; then verdict=FAILED; failed=1; fi
  summary+=("$(printf '%-8s %-7s %5d s  %s' "$1" "$verdict" $(($(date +%s) - stage_start)) "$3")")
}
ctest_line() { grep -E 'tests passed|tests failed out of' "$1" 2>/dev/null | tail -n 1; }

begin release
(
  set -e
  cmake --preset release >/dev/null
  cmake --build --preset release -- -k 0 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\] ' || true
  cmake --build --preset release  # fails loudly if the build above did not finish
  cd build/release
  # ctest prints its own summary ("100% tests passed, 0 tests failed out of N") at the end.
  ctest --output-on-failure --timeout 600 -j2 "$@" 2>&1 | tee ctest.log
)
end release $? "$(ctest_line build/release/ctest.log)"

if [[ ${BATCHD_SANITIZE:-1} != 0 ]]; then
  begin asan
  ./deploy/sanitize.sh asan
  end asan $? "$(ctest_line build/asan/ctest.log)"

  fuzz_seconds=${BATCHD_FUZZ_SECONDS:-30}
  if ((fuzz_seconds > 0)); then
    begin fuzz
    tests/fuzz/run_fuzzers.sh build/asan "$fuzz_seconds" 2>&1 | tee build/asan/fuzz.log
    end fuzz "${PIPESTATUS[0]}" "$(grep -E '^fuzz total' build/asan/fuzz.log)"
  fi

  begin tsan
  ./deploy/sanitize.sh tsan
  end tsan $? "$(ctest_line build/tsan/ctest.log)"
fi

echo "=== test.sh summary"
printf '%s\n' "${summary[@]}"
echo "ctest summary (release build): $(ctest_line build/release/ctest.log)"
exit $failed
