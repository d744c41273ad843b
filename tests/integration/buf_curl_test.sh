#!/usr/bin/env bash
# batchd as a grpcurl user sees it: start the daemon on a free port, then use `buf curl` over
# gRPC with server reflection (gRPC 1.51 serves only v1alpha) to list the services, check
# health and resolve a graph from a JSON body on stdin. Every step is time-bounded.
# Usage: buf_curl_test.sh <batchd binary> <buf binary>. Exit 77 (skip) without buf.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/start_daemon.sh" "$@"
url="http://$address"
echo "batchd at $url"

# No --reflect-protocol: like a user, rely on buf falling back from v1 to the v1alpha
# reflection that gRPC 1.51 serves.
curl_args=(--protocol grpc --http2-prior-knowledge)
run_buf() {
  timeout 60 "$buf" curl "${curl_args[@]}" "$@"
}

services=$(run_buf --list-services "$url") || fail "buf curl --list-services failed"
echo "$services"
for service in batchd.v1.BatchService batchd.v1.WorkerService grpc.health.v1.Health; do
  grep -qx "$service" <<<"$services" || fail "--list-services does not list $service"
done

health=$(run_buf -d '{}' "$url/grpc.health.v1.Health/Check") || fail "Health/Check failed"
echo "$health"
grep -q '"status": *"SERVING"' <<<"$health" || fail "Health/Check is not SERVING: $health"

layers=$(run_buf -d @- "$url/batchd.v1.BatchService/ResolveExecutionOrder" <<'JSON'
{"tasks": [
  {"id": "a"},
  {"id": "b", "dependencies": ["a"]},
  {"id": "c", "dependencies": ["a"]},
  {"id": "d", "dependencies": ["b", "c"]}
]}
JSON
) || fail "ResolveExecutionOrder failed"
echo "$layers"
compact=$(tr -d ' \n' <<<"$layers")
expected='{"layers":[{"taskIds":["a"]},{"taskIds":["b","c"]},{"taskIds":["d"]}],"criticalPath":["a","b","d"]}'
[[ $compact == "$expected" ]] || fail "unexpected ResolveExecutionOrder answer: $compact"

# A rejected graph: buf curl exits with the gRPC code << 3 (INVALID_ARGUMENT = 3 -> 24).
set +e
rejected=$(run_buf -d '{"tasks":[{"id":"a","dependencies":["a"]}]}' \
  "$url/batchd.v1.BatchService/ResolveExecutionOrder" 2>&1)
code=$?
set -e
echo "$rejected"
[[ $code -eq 24 ]] || fail "self-dependency: expected exit 24 (INVALID_ARGUMENT), got $code"
grep -q "depends on itself" <<<"$rejected" || fail "self-dependency message missing"

echo "PASS"
