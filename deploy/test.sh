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
ctest --output-on-failure --timeout 600 -j2 "$@"
