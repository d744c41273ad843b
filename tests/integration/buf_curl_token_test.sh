#!/usr/bin/env bash
# The README's grpcurl section with a token, run with buf curl: batchd started with
# --auth-token-file; listing services and Health work without the token, BatchService calls
# (ProcessBatch from a JSON body on stdin, SubmitBatch, StreamResults) work with
# `-H 'authorization: Bearer ...'` and are UNAUTHENTICATED without it. Every step is bounded.
# Usage: buf_curl_token_test.sh <batchd binary> <buf binary>. Exit 77 (skip) without buf.
set -euo pipefail

secrets=$(mktemp -d)
token=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
echo "$token" >"$secrets/token"
source "$(dirname "${BASH_SOURCE[0]}")/start_daemon.sh" "$1" "$2" \
  "--auth-token-file=$secrets/token"
trap 'cleanup; rm -rf "$secrets"' EXIT
url="http://$address"
echo "batchd at $url"

run_buf() {
  timeout 60 "$buf" curl --protocol grpc --http2-prior-knowledge "$@"
}
auth=(-H "authorization: Bearer $token")

services=$(run_buf --list-services "$url") || fail "--list-services without a token failed"
grep -qx batchd.v1.BatchService <<<"$services" || fail "BatchService not listed: $services"
health=$(run_buf -d '{"service":""}' "$url/grpc.health.v1.Health/Check") ||
  fail "Health/Check without a token failed"
grep -q '"status": *"SERVING"' <<<"$health" || fail "not SERVING: $health"

summary=$(run_buf "${auth[@]}" -d @- "$url/batchd.v1.BatchService/ProcessBatch" <<'JSON'
{"tasks": [
  {"id": "a", "executor": "sleep", "input": {"ms": 100}},
  {"id": "b", "executor": "echo",  "input": {"hello": "world"}, "dependencies": ["a"]},
  {"id": "c", "executor": "sleep", "input": 50, "dependencies": ["a"]},
  {"id": "d", "executor": "echo",  "input": 1, "dependencies": ["b", "c"]}],
 "options": {"maxConcurrent": 4, "aggregation": "AGGREGATION_ORDERED"}}
JSON
) || fail "ProcessBatch with the token failed"
compact=$(tr -d ' \n' <<<"$summary")
grep -qF '"state":"BATCH_STATE_SUCCEEDED"' <<<"$compact" || fail "ProcessBatch: $compact"

submitted=$(run_buf "${auth[@]}" -d '{"tasks": [{"id": "x", "executor": "echo", "input": 7}]}' \
  "$url/batchd.v1.BatchService/SubmitBatch") || fail "SubmitBatch with the token failed"
batch_id=$(tr -d ' \n' <<<"$submitted" | sed -n 's/.*"batchId":"\([^"]*\)".*/\1/p')
[[ -n $batch_id ]] || fail "no batchId in $submitted"
results=$(run_buf "${auth[@]}" -d "{\"batchId\": \"$batch_id\"}" \
  "$url/batchd.v1.BatchService/StreamResults") || fail "StreamResults with the token failed"
grep -q '"taskId": *"x"' <<<"$results" || fail "StreamResults lacks task x: $results"

# Without the header: UNAUTHENTICATED; buf curl exits with the code << 3 (16 -> 128).
for wrong in "" "authorization: Bearer not-the-token"; do
  args=()
  [[ -n $wrong ]] && args=(-H "$wrong")
  set +e
  rejected=$(run_buf "${args[@]}" -d @- "$url/batchd.v1.BatchService/ProcessBatch" \
    <<<'{"tasks": [{"id": "a"}]}' 2>&1)
  code=$?
  set -e
  echo "$rejected"
  [[ $code -eq 128 ]] || fail "header '$wrong': expected exit 128 (UNAUTHENTICATED), got $code"
  grep -q "missing or invalid bearer token" <<<"$rejected" || fail "message missing: $rejected"
done

echo "PASS"
