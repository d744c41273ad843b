#!/usr/bin/env bash
# Installs everything batchd needs to build, test and benchmark on Debian 12.
# Idempotent: quiet and fast when everything is already present.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler grpc-proto
  libabsl-dev libspdlog-dev libfmt-dev libboost1.81-dev libboost-json1.81-dev
  libsqlite3-dev  # the journal (core/journal/journal_store.cc)
  libgoogle-perftools-dev  # tcmalloc_minimal, linked into batchd (server/CMakeLists.txt)
  libgtest-dev libgmock-dev libbenchmark-dev
  python3-grpcio python3-protobuf python3-pytest
  python3-venv python3-setuptools python3-wheel python3-pip  # client/python: pip install, pip wheel
  python3-mypy  # tests/lint/python_mypy.sh (mypy --strict on client/python), test_packaging.py
  python3-pytest-asyncio  # async def tests for batchd.aio (tests/python)
  procps
  curl  # tests/integration/http_api: the HTTP API driven the way the README's one-liners are
  openssl  # tests (security, https) and bench/https_daemon.py make their TLS certificates with it
  # bench/run.sh: the peers (Celery 5 + Redis, Dask distributed), the shell tools compared with
  # the shell executor, plots; perf for profiling the hot paths the benchmarks point at.
  python3-celery python3-redis redis-server python3-distributed python3-matplotlib
  python3-aiohttp  # bench/https_daemon.py: the asyncio HTTP client batchd's http executor is compared with
  parallel make bc linux-perf
  # deploy/sanitize.sh and tests/fuzz: clang and libFuzzer for the asan preset; libclang-rt-14-dev
  # holds the sanitizer and fuzzer runtimes and FuzzedDataProvider.h, which the gcc build's
  # corpus replays include.
  clang-14 libclang-rt-14-dev libfuzzer-14-dev
  clang-format-14  # tests/lint/clang_format.sh
  chromium chromium-driver python3-selenium  # tests/browser and bench/dashboard_page.py: the dashboard in headless Chromium
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

sudo_cmd=""
[[ $(id -u) -ne 0 ]] && sudo_cmd="sudo"
export DEBIAN_FRONTEND=noninteractive
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# BATCHD_SKIP_TOOLS=1 skips the npm-installed test tools (buf, the Node client's packages), e.g.
# in the Docker build.
if [[ ${BATCHD_SKIP_TOOLS:-0} == 1 ]]; then
  exit 0
fi

# Node.js (for npm) may come from Debian or from NodeSource, whose nodejs bundles npm and
# conflicts with Debian's npm package: install Debian's only when no npm is on PATH.
if ! command -v npm >/dev/null; then
  $sudo_cmd apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi

# buf (grpcurl-compatible `buf curl`, and `buf lint`) from the npm registry, kept in the
# repository's ignored tools folder so tests find it without touching the global npm prefix.
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$repo_root/.tools"
if [[ ! -x "$tools/node_modules/.bin/buf" ]]; then
  echo "install-deps: installing @bufbuild/buf into .tools/"
  mkdir -p "$tools"
  npm install --silent --no-audit --no-fund --prefix "$tools" @bufbuild/buf@1 >/dev/null
fi

# The Node.js client's packages (@grpc/grpc-js, @grpc/proto-loader, protobufjs) exactly as its
# lock file names them, into client/node/node_modules (ignored by git), for its tests and
# examples; installed again when the lock file is newer than the last install.
node_client="$repo_root/client/node"
if [[ ! -f $node_client/node_modules/.package-lock.json ||
      $node_client/package-lock.json -nt $node_client/node_modules/.package-lock.json ]]; then
  echo "install-deps: installing client/node's npm packages (npm ci)"
  npm ci --silent --no-audit --no-fund --ignore-scripts --prefix "$node_client" >/dev/null
fi
