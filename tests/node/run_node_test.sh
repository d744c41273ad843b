#!/usr/bin/env bash
# Runs one test file of the Node.js client (client/node) with `node --test`. With a batchd
# binary it first starts the daemon on a free loopback port (tests/integration/start_daemon.sh,
# extra daemon flags after the binary) and hands the file its address as $BATCHD_ADDR.
# Usage: run_node_test.sh <node> <test file> [<batchd binary> [daemon flags...]]
# Exit 77 (skip) only when node is missing; missing npm packages fail (deploy/install-deps.sh
# installs them with `npm ci` into client/node/node_modules).
set -euo pipefail

node=${1:?usage: $(basename "$0") <node> <test file> [<batchd> [flags...]]}
test_file=${2:?usage: $(basename "$0") <node> <test file> [<batchd> [flags...]]}
if ! command -v "$node" >/dev/null; then
  echo "SKIP: $node not found (run deploy/install-deps.sh)"
  exit 77
fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
modules="$here/../../client/node/node_modules"
for package in @grpc/grpc-js @grpc/proto-loader protobufjs; do
  if [[ ! -f $modules/$package/package.json ]]; then
    echo "FAIL: $package is not installed in client/node (run deploy/install-deps.sh)" >&2
    exit 1
  fi
done
echo "$("$node" --version) with client/node's packages"

if (($# > 2)); then
  # Defines $address and fail(), and kills the daemon on exit.
  # shellcheck source=SCRIPTDIR/../integration/start_daemon.sh
  source "$here/../integration/start_daemon.sh" "$3" "$(command -v "$node")" "${@:4}"
  echo "batchd at $address"
  BATCHD_ADDR=$address timeout 240 "$node" --test --test-reporter=spec "$test_file" \
    || fail "node --test $(basename "$test_file") failed"
else
  timeout 240 "$node" --test --test-reporter=spec "$test_file"
fi
