#!/usr/bin/env bash
# Installs everything, builds batchd, starts the daemon on 127.0.0.1:50051 (its HTTP API and
# dashboard on 127.0.0.1:8080), runs an example DAG with a live progress bar and a summary, then
# stops the daemon.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

./deploy/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target batchd batchctl >/dev/null

addr="${BATCHD_ADDR:-127.0.0.1:50051}"
http="${BATCHD_HTTP_LISTEN:-127.0.0.1:8080}"
build/release/server/batchd --listen="$addr" --http-listen="$http" --log-level=warn &
daemon=$!
trap 'kill -TERM $daemon 2>/dev/null; wait $daemon 2>/dev/null || true' EXIT

for _ in $(seq 1 100); do
  build/release/client/batchctl/batchctl --addr="$addr" health >/dev/null 2>&1 && break
  sleep 0.1
done

echo "== execution layers of client/examples/pipeline.json"
build/release/client/batchctl/batchctl --addr="$addr" layers client/examples/pipeline.json
echo
echo "== running it (the dashboard, while it runs: http://$http/)"
build/release/client/batchctl/batchctl --addr="$addr" submit client/examples/pipeline.json --watch
