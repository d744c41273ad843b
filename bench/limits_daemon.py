#!/usr/bin/python3
"""Shared limits through the real daemon (issue 18), three workloads, figures on stdout (JSON).

  bench/limits_daemon.py --build-dir build/release [--quick] [--only rate,keys,http429]

rate     N echo tasks on one key limited to R units/s with burst B (10,000 at 1,000/s, burst
         100): the observed rate over the run, and the most tasks started in any window beyond
         what the bucket allows (burst + rate * window), from the tasks' started_at; then the
         daemon's CPU per task of a limit that never makes a task wait, against none
         (100,000 echo tasks, median of 3 alternated runs each).
keys     1,000 keys x 100 tasks of sleep 5 ms (key-major order), each key limited to 10 in
         flight: the most tasks of one key ever running at once (from started_at /
         finished_at) and the throughput, against the same batch without limits.
http429  a local HTTP server that answers 429 with Retry-After: 1 above a hidden 100 req/s
         (burst 10), behind a key configured 4x higher (400/s): batchd's adaptive back-off
         settles near the hidden rate; the 429 share after the first 10 s, and no task lost.

Starts its own batchd on loopback (port 0, --durability=none) and stops it (also if killed).
Exits 1 when a check fails (the figures are still printed).
"""
import argparse
import http.server
import json
import os
import statistics
import sys
import tempfile
import threading
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH_DIR)
from run_all import Servers, _listening_address, proc_cpu_seconds, wait_for  # noqa: E402


def load_stubs(build_dir):
    sys.path.insert(0, os.path.join(build_dir, "python"))
    global grpc, b, bs, bsg, ls, lsg, struct_pb2
    import grpc  # noqa: F401
    from batchd.v1 import batch_pb2 as b  # noqa: F401
    from batchd.v1 import batch_service_pb2 as bs  # noqa: F401
    from batchd.v1 import batch_service_pb2_grpc as bsg  # noqa: F401
    from batchd.v1 import limit_service_pb2 as ls  # noqa: F401
    from batchd.v1 import limit_service_pb2_grpc as lsg  # noqa: F401
    from google.protobuf import struct_pb2  # noqa: F401


class Daemon:
    def __init__(self, servers, binary, *flags):
        self.proc = servers.start(f"batchd-{time.monotonic_ns()}",
                                  [binary, "--listen=127.0.0.1:0", "--durability=none",
                                   "--log-level=warn", *flags])
        self.address = wait_for(lambda: _listening_address(servers.log(self.proc, "out")),
                                "batchd start", 30, self.proc)
        self.channel = grpc.insecure_channel(self.address, options=[
            ("grpc.max_receive_message_length", 64 << 20)])
        self.batches = bsg.BatchServiceStub(self.channel)
        self.limits = lsg.LimitServiceStub(self.channel)

    def cpu(self):
        return proc_cpu_seconds(self.proc.pid)

    def set_limit(self, key, max_in_flight=None, rates=()):
        limit = ls.Limit(key=key)
        if max_in_flight is not None:
            limit.max_in_flight = max_in_flight
        for units, seconds, burst in rates:
            r = limit.rates.add(units=units, burst=burst)
            r.period.seconds = seconds
        self.limits.SetLimit(ls.SetLimitRequest(limit=limit), timeout=30)

    def run(self, tasks, max_concurrent):
        """Submits one batch and reads every result; returns (results, wall seconds)."""
        request = bs.SubmitBatchRequest(tasks=tasks)
        request.options.max_concurrent = max_concurrent
        start = time.monotonic()
        batch_id = self.batches.SubmitBatch(request, timeout=60).batch_id
        results = []
        for message in self.batches.StreamResults(bs.StreamResultsRequest(batch_id=batch_id),
                                                  timeout=600):
            results.extend(message.results)
        return results, time.monotonic() - start


def task(task_id, executor="echo", key=None, input_fields=None):
    t = b.Task(id=task_id, executor=executor)
    if input_fields is not None:
        t.input.struct_value.update(input_fields)
    if key is not None:
        t.limits.add(key=key, units=1)
    return t


def seconds(ts):
    return ts.seconds + ts.nanos * 1e-9


def succeeded(results):
    return sum(1 for r in results if r.state == b.TASK_STATE_SUCCEEDED)


# ---- rate -------------------------------------------------------------------------------------

def window_excess(starts, rate):
    """The most tasks started in any window [t_i, t_j] beyond rate * (t_j - t_i): a token
    bucket of burst B never lets this exceed B."""
    best = float("-inf")
    low = float("inf")
    for j, t in enumerate(starts):
        low = min(low, j - rate * t)  # i = j included: a window of one task
        best = max(best, (j + 1 - rate * t) - low)
    return best


def bench_rate(servers, binary, quick):
    n, rate, burst = (2000, 1000, 100) if quick else (10000, 1000, 100)
    d = Daemon(servers, binary)
    d.set_limit("api", rates=[(rate, 1, burst)])
    results, wall = d.run([task(f"t{i}", key="api") for i in range(n)], max_concurrent=n)
    starts = sorted(seconds(r.started_at) for r in results)
    t0 = starts[0]
    starts = [t - t0 for t in starts]
    observed = (n - burst) / starts[-1] if starts[-1] > 0 else float("inf")
    excess = window_excess(starts, rate)

    # CPU per task of a limit nobody waits for, against no limit.
    m = 20000 if quick else 100000
    d.set_limit("wide", max_in_flight=1_000_000, rates=[(1_000_000_000, 1, 1_000_000_000)])
    cpu = {"none": [], "limit": []}
    for _ in range(1 if quick else 3):
        for kind in ("none", "limit"):
            tasks = [task(f"t{i}", key="wide" if kind == "limit" else None) for i in range(m)]
            before = d.cpu()
            got, _ = d.run(tasks, max_concurrent=1024)
            cpu[kind].append((d.cpu() - before) / m * 1e6)
            assert succeeded(got) == m
    servers.stop(d.proc)
    overhead = statistics.median(cpu["limit"]) - statistics.median(cpu["none"])
    return {
        "tasks": n, "rate": rate, "burst": burst, "succeeded": succeeded(results),
        "wall_s": round(wall, 3), "observed_rate": round(observed, 2),
        "rate_error_pct": round(abs(observed - rate) / rate * 100, 3),
        "max_window_excess": round(excess, 3),
        "window_ok": excess <= burst + 1,  # +1: started_at is the wall clock, the bucket steady
        "cpu_us_per_task_no_limit": [round(x, 3) for x in cpu["none"]],
        "cpu_us_per_task_limit": [round(x, 3) for x in cpu["limit"]],
        "limit_overhead_us_per_task": round(overhead, 3),
        "ok": succeeded(results) == n and abs(observed - rate) / rate <= 0.02
        and excess <= burst + 1,
    }


# ---- keys -------------------------------------------------------------------------------------

def max_overlap(intervals):
    events = []
    for start, end in intervals:
        events.append((start, 1))
        events.append((end, -1))
    events.sort(key=lambda e: (e[0], e[1]))  # at a tie the finish comes first
    now = most = 0
    for _, delta in events:
        now += delta
        most = max(most, now)
    return most


def bench_keys(servers, binary, quick):
    keys, per_key, bound, sleep_ms = (100, 20, 10, 5) if quick else (1000, 100, 10, 5)
    n = keys * per_key
    d = Daemon(servers, binary)
    for k in range(keys):
        d.set_limit(f"tenant:{k}", max_in_flight=bound)
    out = {"keys": keys, "tasks_per_key": per_key, "max_in_flight": bound, "sleep_ms": sleep_ms}
    for kind in ("none", "limits"):
        # Key-major order: the first ready tasks all name the same few keys, so the bound binds
        # (without limits a key's 100 tasks run at once) and most tasks wait in a key's queue.
        tasks = [task(f"t{i}", "sleep", f"tenant:{i // per_key}" if kind == "limits" else None,
                      {"ms": sleep_ms}) for i in range(n)]
        results, wall = d.run(tasks, max_concurrent=n)
        by_key = {}
        for r in results:
            k = int(r.task_id[1:]) // per_key
            by_key.setdefault(k, []).append((seconds(r.started_at), seconds(r.finished_at)))
        out[f"{kind}_succeeded"] = succeeded(results)
        out[f"{kind}_wall_s"] = round(wall, 3)
        out[f"{kind}_tasks_per_s"] = round(n / wall)
        out[f"{kind}_most_in_flight_of_a_key"] = max(max_overlap(v) for v in by_key.values())
    servers.stop(d.proc)
    out["ok"] = (out["limits_succeeded"] == n and out["none_succeeded"] == n
                 and out["limits_most_in_flight_of_a_key"] <= bound)
    return out


# ---- http429 ----------------------------------------------------------------------------------

class HiddenRateServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # the default 5 drops connects: SYN retries would stall tasks

    def __init__(self, rate, burst):
        super().__init__(("127.0.0.1", 0), HiddenRateHandler)
        self.rate, self.burst = rate, burst
        self.tokens, self.last = float(burst), time.monotonic()
        self.lock = threading.Lock()
        self.log = []  # (monotonic time, status)

    def admit(self):
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
            self.last = now
            ok = self.tokens >= 1
            if ok:
                self.tokens -= 1
            self.log.append((now, 200 if ok else 429))
            return ok


class HiddenRateHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 - http.server's naming
        ok = self.server.admit()
        body = b'{"ok": true}' if ok else b'{"error": "rate limited"}'
        self.send_response(200 if ok else 429)
        if not ok:
            self.send_header("Retry-After", "1")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def bench_http429(servers, binary, quick):
    hidden, n = (100, 1000) if quick else (100, 3000)
    server = HiddenRateServer(hidden, 10)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/v1/call"
    d = Daemon(servers, binary)
    d.set_limit("api", max_in_flight=50, rates=[(4 * hidden, 1, 4 * hidden // 10)])
    tasks = [task(f"t{i}", "http", "api", {"url": url, "method": "GET"}) for i in range(n)]
    results, wall = d.run(tasks, max_concurrent=n)
    servers.stop(d.proc)
    server.shutdown()
    log = server.log
    t0 = log[0][0]
    late = [status for t, status in log if t - t0 >= 10]
    late_ok = [t for t, status in log if t - t0 >= 10 and status == 200]
    settled = (len(late_ok) / (late_ok[-1] - late_ok[0])
               if len(late_ok) > 1 and late_ok[-1] > late_ok[0] else 0)
    share = sum(1 for s in late if s == 429) / len(late) if late else 0
    lost = n - succeeded(results)
    return {
        "tasks": n, "hidden_rate": hidden, "configured_rate": 4 * hidden,
        "requests": len(log), "429_total": sum(1 for _, s in log if s == 429),
        "429_share_after_10s_pct": round(share * 100, 2),
        "settled_rate_after_10s": round(settled, 1), "wall_s": round(wall, 2),
        "lost": lost, "max_retry_count": max(r.retry_count for r in results),
        "ok": lost == 0 and share < 0.02,
    }


WORKLOADS = {"rate": bench_rate, "keys": bench_keys, "http429": bench_http429}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default=",".join(WORKLOADS))
    args = parser.parse_args()
    load_stubs(args.build_dir)
    binary = os.path.join(args.build_dir, "server", "batchd")
    failed = False
    with tempfile.TemporaryDirectory(prefix="batchd-limits-bench-") as work:
        servers = Servers(work)
        try:
            for name in args.only.split(","):
                figures = WORKLOADS[name](servers, binary, args.quick)
                print(json.dumps({"workload": name, **figures}), flush=True)
                failed |= not figures["ok"]
        finally:
            servers.stop_all()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
