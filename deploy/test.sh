#!/usr/bin/env bash
# Installs everything batchd needs, builds it (release preset) and runs every test with ctest.
# Usage: deploy/test.sh [extra ctest args]     (CI runs this through .ci/run)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

./deploy/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -- -k 0 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\] ' || true
cmake --build --preset release  # fails loudly if the build above did not finish

cd build/release
# ctest prints its own summary ("100% tests passed, 0 tests failed out of N") at the end.
ctest --output-on-failure --timeout 600 -j2 "$@" 2>&1 | tee ctest.log

# Fuzzing (issue 9): the libFuzzer targets of tests/fuzz/ built with clang (ASan + UBSan), each
# run for BATCHD_FUZZ_SECONDS (30) from its seed corpus; any crash fails the run. Their corpora
# also replay in every ctest run above (fuzz_*_replay). BATCHD_FUZZ_SECONDS=0 skips this.
cd "$repo"
fuzz_seconds=${BATCHD_FUZZ_SECONDS:-30}
if ((fuzz_seconds > 0)); then
  cmake --preset fuzz >/dev/null
  cmake --build --preset fuzz 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\] ' || true
  cmake --build --preset fuzz  # fails loudly if the build above did not finish
  tests/fuzz/run_fuzzers.sh build/fuzz "$fuzz_seconds"
fi

# Sanitizers (deploy/sanitize.sh: ASan+UBSan over unit and integration tests, TSan over the
# scheduler and worker tests) are not part of this run yet: see deploy/sanitize.sh.

echo "ctest summary (release build): $(grep -E 'tests passed|tests failed out of' build/release/ctest.log | tail -n 1)"
