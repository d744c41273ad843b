"""The HTTP/JSON API end to end: curl against the real daemon, one test (at least) per route,
then the bad input the listener must refuse while it keeps serving gRPC and HTTP."""

import json
import os
import socket
import subprocess
import sys
import time

import pytest

from conftest import Curl


def wait_until(predicate, timeout=30.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met within %.0f s" % timeout)


def submit(curl, tasks, **fields):
    body = {"tasks": tasks, **fields}
    return curl.json("POST", "/v1/batches", body)


def finished(curl, batch_id):
    state = curl.json("GET", f"/v1/batches/{batch_id}/progress")["progress"]["state"]
    return state in ("BATCH_STATE_SUCCEEDED", "BATCH_STATE_FAILED", "BATCH_STATE_CANCELLED")


def ndjson(content):
    return [json.loads(line) for line in content.decode().splitlines() if line.strip()]


def test_health_ready_and_metrics(curl):
    assert curl.json("GET", "/healthz") == {"status": "SERVING"}
    assert curl.json("GET", "/readyz") == {"status": "SERVING"}
    status, headers, body = curl("GET", "/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain")
    assert b"batchd_" in body


def test_submit_get_progress_and_results_stream(curl):
    answer = submit(curl, [{"id": "a", "input": {"n": 1}},
                           {"id": "b", "dependencies": ["a"], "input": "x"}],
                    labels={"team": "ml"})
    batch_id = answer["batchId"]
    assert [layer["taskIds"] for layer in answer["layers"]] == [["a"], ["b"]]
    wait_until(lambda: finished(curl, batch_id))
    summary = curl.json("GET", f"/v1/batches/{batch_id}")["summary"]
    assert summary["state"] == "BATCH_STATE_SUCCEEDED"
    assert summary["successfulCount"] == 2 and summary["failedCount"] == 0
    progress = curl.json("GET", f"/v1/batches/{batch_id}/progress")["progress"]
    assert progress["labels"] == {"team": "ml"} and progress["completedTasks"] == 2

    status, headers, body = curl("GET", f"/v1/batches/{batch_id}/results")
    assert status == 200 and headers["content-type"] == "application/x-ndjson"
    messages = ndjson(body)
    results = [r for m in messages for r in m["results"]]
    assert sorted(r["taskId"] for r in results) == ["a", "b"]
    assert {r["taskId"]: r["output"] for r in results} == {"a": {"n": 1}, "b": "x"}
    assert messages[-1]["summary"]["state"] == "BATCH_STATE_SUCCEEDED"


def test_results_as_server_sent_events_resume_with_last_event_id(curl):
    tasks = [{"id": f"t{i}", "input": i} for i in range(5)]
    batch_id = submit(curl, tasks)["batchId"]
    wait_until(lambda: finished(curl, batch_id))
    status, headers, body = curl("GET", f"/v1/batches/{batch_id}/results",
                                 headers={"Accept": "text/event-stream"})
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    events = [e for e in body.decode().split("\n\n") if e.strip()]
    ids = [line[4:] for e in events for line in e.split("\n") if line.startswith("id: ")]
    datas = [json.loads(line[6:]) for e in events for line in e.split("\n")
             if line.startswith("data: ")]
    assert len(ids) == len(datas) >= 1
    first_sequence = ids[0]
    all_results = [r["taskId"] for d in datas for r in d["results"]]
    assert sorted(all_results) == sorted(t["id"] for t in tasks)
    # Resuming after the first event gives the rest and no result twice.
    _, _, rest = curl("GET", f"/v1/batches/{batch_id}/results",
                      headers={"Last-Event-ID": first_sequence})
    first_ids = [r["taskId"] for r in datas[0]["results"]]
    later = [r["taskId"] for m in ndjson(rest) for r in m["results"]]
    assert sorted(first_ids + later) == sorted(all_results)
    _, _, by_query = curl("GET", f"/v1/batches/{batch_id}/results?afterSequence={first_sequence}")
    assert [r["taskId"] for m in ndjson(by_query) for r in m["results"]] == later


def test_process_batch_answers_the_summary(curl):
    summary = curl.json("POST", "/v1/batches:process",
                        {"tasks": [{"id": "a"}, {"id": "f", "executor": "fail"}],
                         "options": {"retryPolicy": {"maxRetries": 0}}})["summary"]
    assert summary["totalTasks"] == 2
    assert summary["successfulCount"] == 1 and summary["failedCount"] == 1


def test_watch_progress_streams_until_the_end(curl):
    batch_id = submit(curl, [{"id": "s", "executor": "sleep", "input": {"ms": 300}}])["batchId"]
    status, _, body = curl("GET", f"/v1/batches/{batch_id}/progress:watch")
    assert status == 200
    states = [m["progress"]["state"] for m in ndjson(body)]
    assert states[-1] == "BATCH_STATE_SUCCEEDED"


def test_cancel_batch_and_task(curl):
    batch_id = submit(curl, [{"id": "long", "executor": "sleep", "input": {"ms": 60000}},
                             {"id": "other", "executor": "sleep", "input": {"ms": 60000}}])["batchId"]
    task = curl.json("POST", f"/v1/batches/{batch_id}/tasks/long:cancel", {"reason": "not needed"})
    assert task["result"]["state"] == "TASK_STATE_CANCELLED"
    again = curl.json("POST", f"/v1/batches/{batch_id}/tasks/long:cancel", {}, expect=400)
    assert again["code"] == 9  # FAILED_PRECONDITION: it already finished
    missing = curl.json("POST", f"/v1/batches/{batch_id}/tasks/nope:cancel", {}, expect=404)
    assert missing["code"] == 5
    progress = curl.json("POST", f"/v1/batches/{batch_id}:cancel", {"reason": "done here"})
    assert progress["progress"]["state"] in ("BATCH_STATE_CANCELLED", "BATCH_STATE_RUNNING")
    wait_until(lambda: finished(curl, batch_id))
    summary = curl.json("GET", f"/v1/batches/{batch_id}")["summary"]
    assert summary["state"] == "BATCH_STATE_CANCELLED" and summary["cancelReason"] == "done here"


def test_open_batch_add_tasks_and_close(curl):
    batch_id = submit(curl, [{"id": "a"}], options={"open": True})["batchId"]
    added = curl.json("POST", f"/v1/batches/{batch_id}/tasks",
                      {"tasks": [{"id": "b", "dependencies": ["a"]}], "requestId": "add-1"})
    assert added["totalTasks"] == 2 and added["alreadyAdded"] is False
    again = curl.json("POST", f"/v1/batches/{batch_id}/tasks",
                      {"tasks": [{"id": "b", "dependencies": ["a"]}], "requestId": "add-1"})
    assert again["alreadyAdded"] is True
    curl.json("POST", f"/v1/batches/{batch_id}:close", {})
    wait_until(lambda: finished(curl, batch_id))
    assert curl.json("GET", f"/v1/batches/{batch_id}")["summary"]["successfulCount"] == 2


def test_complete_an_external_task(curl):
    batch_id = submit(curl, [{"id": "approve", "executor": "external", "input": {"q": "ok?"}}])["batchId"]

    def awaiting():
        p = curl.json("GET", f"/v1/batches/{batch_id}/progress")["progress"]
        return p["awaitingCompletion"]

    waiting = wait_until(awaiting)
    assert waiting[0]["taskId"] == "approve" and waiting[0]["input"] == {"q": "ok?"}
    done = curl.json("POST", f"/v1/batches/{batch_id}/tasks/approve:complete",
                     {"token": waiting[0]["token"], "output": {"approved": True}})
    assert done["state"] == "TASK_STATE_SUCCEEDED"
    wait_until(lambda: finished(curl, batch_id))
    wrong = curl.json("POST", f"/v1/batches/{batch_id}/tasks/approve:complete",
                      {"token": "forged", "output": 1}, expect=403)
    assert wrong["code"] == 7


def test_task_output_stream_ends_with_the_result(curl):
    batch_id = submit(curl, [{"id": "e", "input": "hi"}])["batchId"]
    wait_until(lambda: finished(curl, batch_id))
    status, _, body = curl("GET", f"/v1/batches/{batch_id}/tasks/e/output")
    assert status == 200
    assert ndjson(body)[-1]["result"]["output"] == "hi"


def test_list_batches_filters_and_pages(curl):
    ids = [submit(curl, [{"id": "a"}], labels={"team": team})["batchId"]
           for team in ("ml", "ml", "web")]
    for batch_id in ids:
        wait_until(lambda: finished(curl, batch_id))
    page = curl.json("GET", "/v1/batches?labelSelector=team%3Dml&pageSize=1")
    assert [b["batchId"] for b in page["batches"]] == [ids[1]]  # newest first
    assert page["totalSize"] == 2 and page["nextPageToken"]
    second = curl.json("GET", f"/v1/batches?labelSelector=team%3Dml&pageSize=1&pageToken={page['nextPageToken']}")
    assert [b["batchId"] for b in second["batches"]] == [ids[0]] and second["nextPageToken"] == ""
    running = curl.json("GET", "/v1/batches?states=BATCH_STATE_RUNNING")
    assert running["batches"] == []
    bad = curl.json("GET", "/v1/batches?labelSelector=%3D%3D", expect=400)
    assert "label_selector" in json.dumps(bad)


def test_list_tasks_with_states_layers_and_dependencies(curl):
    batch_id = submit(curl, [{"id": "a"}, {"id": "b", "dependencies": ["a"]},
                             {"id": "c", "dependencies": ["b"]}])["batchId"]
    wait_until(lambda: finished(curl, batch_id))
    listed = curl.json("GET", f"/v1/batches/{batch_id}/tasks")
    assert [(t["taskId"], t["layer"], t["dependencies"], t["state"]) for t in listed["tasks"]] == [
        ("a", 0, [], "TASK_STATE_SUCCEEDED"), ("b", 1, ["a"], "TASK_STATE_SUCCEEDED"),
        ("c", 2, ["b"], "TASK_STATE_SUCCEEDED")]
    assert listed["totalSize"] == 3 and listed["batchState"] == "BATCH_STATE_SUCCEEDED"
    paged = curl.json("GET", f"/v1/batches/{batch_id}/tasks?pageSize=2&states=TASK_STATE_SUCCEEDED")
    assert len(paged["tasks"]) == 2 and paged["nextPageToken"]
    missing = curl.json("GET", "/v1/batches/nope/tasks", expect=404)
    assert missing["code"] == 5


def test_executors_workers_limits_cache_and_previews(curl):
    executors = curl.json("GET", "/v1/executors")["executors"]
    assert {"echo", "sleep", "fail", "external"} <= {e["name"] for e in executors}
    assert curl.json("GET", "/v1/workers") == {"workers": []}
    status = curl.json("PUT", "/v1/limits/openai", {"maxInFlight": "3"})["status"]
    assert status["limit"]["key"] == "openai" and status["limit"]["maxInFlight"] == "3"
    limits = curl.json("GET", "/v1/limits")["limits"]
    assert [l["limit"]["key"] for l in limits] == ["openai"]
    assert curl.json("DELETE", "/v1/limits/openai") == {}
    assert curl.json("GET", "/v1/limits") == {"limits": []}
    stats = curl.json("GET", "/v1/cache/stats")["stats"]
    assert stats["hits"] == "0"
    assert curl.json("POST", "/v1/cache:invalidate", {"all": True}) == {"removed": "0"}
    order = curl.json("POST", "/v1/executionOrder:resolve",
                      {"tasks": [{"id": "a"}, {"id": "b", "dependencies": ["a"]}]})
    assert [l["taskIds"] for l in order["layers"]] == [["a"], ["b"]]
    assert order["criticalPath"] == ["a", "b"]
    preview = curl.json("POST", "/v1/assignments:preview",
                        {"tasks": [{"id": "a"}, {"id": "b"}], "workers": 2})
    assert sum(len(l["taskIds"]) for l in preview["assignments"]) == 2


def test_validation_errors_match_grpc(curl, daemon):
    bad = {"tasks": [{"id": "a"}, {"id": "a", "dependencies": ["zz"]}]}
    error = curl.json("POST", "/v1/batches", bad, expect=400)
    assert error["code"] == 3
    violations = [v for d in error["details"] for v in d.get("fieldViolations", [])]
    assert {v["field"] for v in violations} >= {"tasks[1].id", "tasks[1].dependencies[0]"}
    # The same request over gRPC gets the same message.
    sys.path.insert(0, os.environ["BATCHD_PYTHON_STUBS"])
    import grpc
    from batchd.v1 import batch_service_pb2, batch_service_pb2_grpc
    from google.protobuf import json_format
    stub = batch_service_pb2_grpc.BatchServiceStub(grpc.insecure_channel(daemon.grpc))
    with pytest.raises(grpc.RpcError) as raised:
        stub.SubmitBatch(json_format.ParseDict(bad, batch_service_pb2.SubmitBatchRequest()))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert raised.value.details() == error["message"]


def test_bad_http_input_gets_clear_errors_and_the_daemon_keeps_serving(curl):
    status, _, body = curl("GET", "/nope")
    assert status == 404 and json.loads(body)["code"] == 5 and "/nope" in json.loads(body)["message"]
    status, _, body = curl("GET", "/v1/batchez")
    assert status == 404 and json.loads(body)["code"] == 5
    status, headers, body = curl("DELETE", "/v1/batches")
    assert status == 405 and headers["allow"] == "POST, GET"
    status, headers, _ = curl("POST", "/healthz", body={})
    assert status == 405 and headers["allow"] == "GET, HEAD"
    status, _, body = curl("POST", "/v1/batches", raw=b"{not json",
                           headers={"Content-Type": "application/json"})
    assert status == 400
    assert "batchd.v1.SubmitBatchRequest" in json.loads(body)["message"]
    status, _, body = curl("POST", "/v1/batches", body={"tasks": [{"id": "a", "priority": "high"}]})
    assert status == 400 and "priority" in json.loads(body)["message"]
    status, _, body = curl("POST", "/v1/batches", raw=b'{"tasks":[]}',
                           headers={"Content-Type": "text/plain"})
    assert status == 415 and "application/json" in json.loads(body)["message"]
    status, _, body = curl("GET", "/v1/batches?pageSise=3")
    assert status == 400 and "pageSise" in json.loads(body)["message"]
    status, _, body = curl("GET", "/v1/batches/nope")
    assert status == 404 and json.loads(body)["code"] == 5
    status, _, body = curl("GET", "/v1/batches/nope/results")
    assert status == 404 and json.loads(body)["code"] == 5
    status, _, body = curl("GET", "/", headers={"Host": "evil.example:80"})
    assert status == 403 and "DNS rebinding" in json.loads(body)["message"]
    # Still serving, both ways.
    assert curl.json("GET", "/healthz") == {"status": "SERVING"}
    assert curl.json("POST", "/v1/batches:process", {"tasks": [{"id": "a"}]})["summary"][
        "successfulCount"] == 1


def test_oversized_body_is_413(start_daemon):
    daemon = start_daemon("--http-api-max-body-bytes=1000")
    curl = Curl(daemon.base)
    status, _, body = curl("POST", "/v1/batches", raw=b'{"tasks":[' + b" " * 2000 + b"]}",
                           headers={"Content-Type": "application/json"})
    assert status == 413 and "1000 bytes" in json.loads(body)["message"]
    assert curl.json("GET", "/healthz") == {"status": "SERVING"}


def test_bearer_token_is_required_with_auth_token_file(start_daemon, workdir):
    token_file = os.path.join(workdir, "token")
    with open(token_file, "w") as f:
        f.write("s3cret-token\n")
    daemon = start_daemon(f"--auth-token-file={token_file}")
    anonymous = Curl(daemon.base)
    status, headers, body = anonymous("GET", "/v1/batches")
    assert status == 401 and json.loads(body)["code"] == 16
    assert headers["www-authenticate"].startswith("Bearer")
    status, _, _ = Curl(daemon.base, token="wrong")("GET", "/v1/batches")
    assert status == 401
    status, _, _ = anonymous("GET", "/v1/batches/x/results")
    assert status == 401
    # Probes, metrics and the page's assets need no token; the API does.
    assert anonymous.json("GET", "/healthz") == {"status": "SERVING"}
    assert anonymous("GET", "/")[0] == 200
    authorised = Curl(daemon.base, token="s3cret-token")
    assert authorised.json("GET", "/v1/batches")["batches"] == []
    # With a token the Host guard is off (the token is the guard).
    assert authorised("GET", "/v1/batches", headers={"Host": "batchd:8080"})[0] == 200


def test_slow_clients_are_cut_off_and_others_still_served(start_daemon):
    daemon = start_daemon("--http-api-read-timeout=1s")
    host, port = daemon.http.rsplit(":", 1)
    slow = socket.create_connection((host, int(port)), timeout=30)
    slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finishes the header
    curl = Curl(daemon.base)
    assert curl.json("GET", "/healthz") == {"status": "SERVING"}
    started = time.monotonic()
    assert slow.recv(100) == b""  # closed by the daemon
    assert time.monotonic() - started < 20
    slow.close()


def test_a_stream_whose_client_leaves_is_cancelled(daemon, curl):
    batch_id = submit(curl, [{"id": "s", "executor": "sleep", "input": {"ms": 60000}}])["batchId"]
    process = subprocess.Popen(["curl", "-sN", f"{daemon.base}/v1/batches/{batch_id}/progress:watch"],
                               stdout=subprocess.PIPE)
    assert process.stdout.readline().startswith(b'{"progress"')
    process.kill()
    process.wait(10)
    assert curl.json("GET", "/healthz") == {"status": "SERVING"}
    curl.json("POST", f"/v1/batches/{batch_id}:cancel", {})


def test_the_dashboard_is_served_from_the_binary(curl):
    status, headers, body = curl("GET", "/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in headers["content-security-policy"]
    etag = headers["etag"]
    status, _, _ = curl("GET", "/", headers={"If-None-Match": etag})
    assert status == 304
    status, _, _ = curl("GET", "/assets/nope.js")
    assert status == 404


def test_metrics_listen_is_an_alias(start_daemon, workdir):
    binary = os.environ["BATCHD_BINARY"]
    done = subprocess.run([binary, "--listen=127.0.0.1:0", "--http-listen=127.0.0.1:1",
                           "--metrics-listen=127.0.0.1:2", "--durability=none"],
                          capture_output=True, timeout=30)
    assert done.returncode == 2
    assert b"--metrics-listen is an alias of --http-listen" in done.stderr


def test_json_logs_announce_the_http_listener_as_json(start_daemon):
    daemon = start_daemon("--log-format=json")
    assert Curl(daemon.base).json("GET", "/healthz") == {"status": "SERVING"}
    daemon.stop()
    with open(daemon._log_path, "rb") as f:
        stderr_lines = [line for line in f.read().decode().splitlines() if line.strip()]
    assert stderr_lines and all(json.loads(line)["msg"] for line in stderr_lines)
    assert any("dashboard on http://" in json.loads(line)["msg"] for line in stderr_lines)


def test_connections_beyond_the_cap_get_503(start_daemon):
    daemon = start_daemon("--http-api-max-connections=2")
    host, port = daemon.http.rsplit(":", 1)
    held = [socket.create_connection((host, int(port)), timeout=30) for _ in range(2)]
    try:
        curl = Curl(daemon.base)

        def refused():
            status, _, body = curl("GET", "/healthz")
            return status == 503 and b"--http-api-max-connections 2" in body
        wait_until(refused)
    finally:
        for s in held:
            s.close()
    wait_until(lambda: Curl(daemon.base)("GET", "/healthz")[0] == 200)


def test_keep_alive_and_head(daemon):
    import http.client
    host, port = daemon.http.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    for path in ("/healthz", "/v1/executors", "/v1/batches"):
        connection.request("GET", path)
        answer = connection.getresponse()
        assert answer.status == 200 and json.loads(answer.read()) is not None
    connection.request("HEAD", "/")
    answer = connection.getresponse()
    assert answer.status == 200 and int(answer.getheader("Content-Length")) > 1000
    assert answer.read() == b""
    connection.close()


def test_answers_beyond_grpcs_default_4_mib_receive_limit(curl):
    # 5 MiB of outputs in one GetBatch summary: one HTTP answer (the in-process channel has no
    # 4 MiB receive limit of its own).
    blob = "x" * 1024
    tasks = [{"id": f"t{i}", "input": blob} for i in range(5 * 1024)]
    status, _, body = curl("POST", "/v1/batches", raw=json.dumps(
        {"tasks": tasks, "options": {"maxConcurrent": 1000}}).encode(),
        headers={"Content-Type": "application/json"})
    assert status == 200, body
    batch_id = json.loads(body)["batchId"]
    wait_until(lambda: finished(curl, batch_id), timeout=120)
    summary = curl.json("GET", f"/v1/batches/{batch_id}")["summary"]
    assert summary["successfulCount"] == 5 * 1024
    assert {r["output"] for r in summary["results"]} == {blob}


def test_expect_100_continue_is_answered(curl):
    # curl asks before a body over 1 MiB; told to wait 30 s for the interim answer instead of
    # its default 1 s, it would hang that long if batchd did not send "100 Continue".
    body = json.dumps({"tasks": [{"id": f"t{i}", "input": "y" * 1024} for i in range(2048)]})
    started = time.monotonic()
    done = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                           "--expect100-timeout", "30", "-H", "Content-Type: application/json",
                           "--data-binary", "@-", curl.base + "/v1/batches"],
                          input=body.encode(), capture_output=True, timeout=60)
    assert done.stdout == b"200", done.stderr
    assert time.monotonic() - started < 20
