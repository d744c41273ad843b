#!/usr/bin/python3
"""The HTTP/JSON API against gRPC through the real daemon (issue 23), figures on stdout (JSON).

  bench/http_api_daemon.py --build-dir build/release [--tasks 10000] [--runs 5]

For each run, one daemon serves both: a batch of N echo tasks (max_concurrent 1000, inputs of
a few fields) is submitted and all of its results are read to the summary,
  grpc   SubmitBatch + StreamResults with the generated Python stubs;
  http   POST /v1/batches (JSON body) + GET /v1/batches/{id}/results (newline-delimited JSON),
         over http.client (one keep-alive connection), parsing every line with json.loads.
Reported: tasks/s end to end (submit to last result) and the submit call alone, medians with
(min-max) over the runs, and the daemon's CPU per task for each, in one run on one machine.
Starts its own batchd on loopback (port 0, --durability=none) and stops it (also if killed).
Exits 1 when a check fails (every result must arrive once).
"""
import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH_DIR)
from run_all import Servers, _listening_address, proc_cpu_seconds, wait_for  # noqa: E402


def load_stubs(build_dir):
    sys.path.insert(0, os.path.join(build_dir, "python"))
    global grpc, json_format, bs, bsg
    import grpc  # noqa: F401
    from google.protobuf import json_format  # noqa: F401
    from batchd.v1 import batch_service_pb2 as bs  # noqa: F401
    from batchd.v1 import batch_service_pb2_grpc as bsg  # noqa: F401


def http_address(stdout_text):
    for line in stdout_text.splitlines():
        if line.startswith("batchd http listening on http://"):
            return line[len("batchd http listening on http://"):]
    return None


def batch_body(n):
    return {"tasks": [{"id": f"t{i}", "input": {"i": i, "text": "hello world", "ok": True}}
                      for i in range(n)],
            "options": {"maxConcurrent": 1000}}


def run_grpc(stub, body):
    request = json_format.ParseDict(body, bs.SubmitBatchRequest())
    start = time.perf_counter()
    batch_id = stub.SubmitBatch(request, timeout=120).batch_id
    submitted = time.perf_counter()
    seen = 0
    for message in stub.StreamResults(bs.StreamResultsRequest(batch_id=batch_id), timeout=300):
        seen += len(message.results)
    return submitted - start, time.perf_counter() - start, seen


def run_http(address, body):
    host, port = address.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=300)
    payload = json.dumps(body).encode()
    start = time.perf_counter()
    connection.request("POST", "/v1/batches", payload, {"Content-Type": "application/json"})
    answer = connection.getresponse()
    batch_id = json.loads(answer.read())["batchId"]
    submitted = time.perf_counter()
    connection.request("GET", f"/v1/batches/{batch_id}/results")
    stream = connection.getresponse()
    seen = 0
    for line in stream:
        if line.strip():
            seen += len(json.loads(line).get("results", ()))
    connection.close()
    return submitted - start, time.perf_counter() - start, seen


def summary(values):
    return {"median": round(statistics.median(values), 1), "min": round(min(values), 1),
            "max": round(max(values), 1)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--tasks", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    load_stubs(args.build_dir)
    binary = os.path.join(args.build_dir, "server", "batchd")
    body = batch_body(args.tasks)
    figures = {kind: {"tasks_per_s": [], "submit_tasks_per_s": [], "cpu_us_per_task": []}
               for kind in ("grpc", "http")}
    ok = True
    with tempfile.TemporaryDirectory(prefix="batchd-http-bench-") as work:
        servers = Servers(work)
        try:
            proc = servers.start("batchd", [binary, "--listen=127.0.0.1:0",
                                            "--http-listen=127.0.0.1:0", "--durability=none",
                                            "--log-level=warn", "--max-running=100000"])
            wait_for(lambda: http_address(servers.log(proc, "out")), "batchd start", 30, proc)
            out = servers.log(proc, "out")
            grpc_address, address = _listening_address(out), http_address(out)
            channel = grpc.insecure_channel(grpc_address, options=[
                ("grpc.max_receive_message_length", 64 << 20),
                ("grpc.max_send_message_length", 64 << 20)])
            stub = bsg.BatchServiceStub(channel)
            run_grpc(stub, batch_body(100))  # warm both paths up
            run_http(address, batch_body(100))
            for _ in range(args.runs):
                for kind in ("grpc", "http"):
                    cpu = proc_cpu_seconds(proc.pid)
                    if kind == "grpc":
                        submit_s, total_s, seen = run_grpc(stub, body)
                    else:
                        submit_s, total_s, seen = run_http(address, body)
                    cpu = proc_cpu_seconds(proc.pid) - cpu
                    ok &= seen == args.tasks
                    f = figures[kind]
                    f["tasks_per_s"].append(args.tasks / total_s)
                    f["submit_tasks_per_s"].append(args.tasks / submit_s)
                    f["cpu_us_per_task"].append(cpu * 1e6 / args.tasks)
        finally:
            servers.stop_all()
    report = {"tasks": args.tasks, "runs": args.runs, "ok": ok,
              **{kind: {name: summary(values) for name, values in f.items()}
                 for kind, f in figures.items()}}
    print(json.dumps(report, indent=1))
    print(f"\n| API | tasks/s end to end | submit tasks/s | daemon CPU per task |", file=sys.stderr)
    print("|---|---|---|---|", file=sys.stderr)
    for kind in ("grpc", "http"):
        r = report[kind]
        print(f"| {kind} | {r['tasks_per_s']['median']:,.0f} ({r['tasks_per_s']['min']:,.0f}"
              f"–{r['tasks_per_s']['max']:,.0f}) | {r['submit_tasks_per_s']['median']:,.0f} | "
              f"{r['cpu_us_per_task']['median']} µs |", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
