#!/usr/bin/env bash
# ProcessBatch as a grpcurl user runs it: start batchd on a free port, send a JSON body on
# stdin with `buf curl -d @-` over gRPC with server reflection, and check the summary's state
# and counts. Every step is time-bounded.
# Usage: buf_curl_process_test.sh <batchd binary> <buf binary>. Exit 77 (skip) without buf.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/start_daemon.sh" "$@"
url="http://$address"
echo "batchd at $url"

run_buf() {
  timeout 60 "$buf" curl --protocol grpc --http2-prior-knowledge "$@"
}

# The README's example, plus a task that fails once and is retried, and one that is skipped.
summary=$(run_buf -d @- "$url/batchd.v1.BatchService/ProcessBatch" <<'JSON'
{"tasks": [
  {"id": "a", "executor": "sleep", "input": {"ms": 100}},
  {"id": "b", "executor": "echo",  "input": {"hello": "world"}, "dependencies": ["a"]},
  {"id": "c", "executor": "sleep", "input": 50, "dependencies": ["a"]},
  {"id": "d", "executor": "echo",  "input": 1, "dependencies": ["b", "c"]},
  {"id": "e", "executor": "fail",  "input": {"error": "flaky", "succeed_on_attempt": 1},
   "retryPolicy": {"kind": "RETRY_KIND_FIXED", "initialDelayMs": 50}}],
 "options": {"maxConcurrent": 4, "aggregation": "AGGREGATION_ORDERED"}}
JSON
) || fail "ProcessBatch failed"
echo "$summary"
compact=$(tr -d ' \n' <<<"$summary")

expect() {
  grep -qF -- "$1" <<<"$compact" || fail "ProcessBatch answer lacks $1: $compact"
}
expect '"state":"BATCH_STATE_SUCCEEDED"'
expect '"totalTasks":5'
expect '"successfulCount":5'
expect '"retriedCount":1'
# proto3 JSON leaves out zero values: no failures means no failedCount.
if grep -q '"failedCount"' <<<"$compact"; then
  fail "a batch without failures reports failedCount: $compact"
fi
# ORDERED: results by task id.
ids=$(grep -o '"taskId":"[^"]*"' <<<"$compact" | tr -d '\n')
[[ $ids == '"taskId":"a""taskId":"b""taskId":"c""taskId":"d""taskId":"e"' ]] ||
  fail "results not in id order: $ids"
expect '"output":{"hello":"world"}'

# A batch that fails: the failing task and its skipped dependent are counted.
failed=$(run_buf -d @- "$url/batchd.v1.BatchService/ProcessBatch" <<'JSON'
{"tasks": [
  {"id": "ok", "executor": "echo", "input": "fine"},
  {"id": "broken", "executor": "fail", "input": {"error": "disk on fire"},
   "retryPolicy": {"kind": "RETRY_KIND_NONE"}},
  {"id": "after", "executor": "echo", "dependencies": ["broken"]}]}
JSON
) || fail "ProcessBatch of a failing batch failed as an RPC"
echo "$failed"
compact=$(tr -d ' \n' <<<"$failed")
expect '"state":"BATCH_STATE_FAILED"'
expect '"totalTasks":3'
expect '"successfulCount":1'
expect '"failedCount":2'
expect '"error":"diskonfire"'
expect '"error":"Skipped:dependency'"'"'broken'"'"'failed"'

# max_concurrent 0 is refused: buf curl exits with the gRPC code << 3 (INVALID_ARGUMENT -> 24).
set +e
rejected=$(run_buf -d '{"tasks":[{"id":"a"}],"options":{"maxConcurrent":0}}' \
  "$url/batchd.v1.BatchService/ProcessBatch" 2>&1)
code=$?
set -e
echo "$rejected"
[[ $code -eq 24 ]] || fail "maxConcurrent 0: expected exit 24 (INVALID_ARGUMENT), got $code"
grep -q "max_concurrent must be greater than 0" <<<"$rejected" ||
  fail "maxConcurrent 0: message missing"

echo "PASS"
