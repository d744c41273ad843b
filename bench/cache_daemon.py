#!/usr/bin/python3
"""The result cache through the real daemon (issue 19), two workloads, figures on stdout (JSON).

  bench/cache_daemon.py --build-dir build/release [--quick] [--only repeats,single_flight]

repeats        N tasks (100,000) whose inputs repeat: 10 % distinct, each seen 10 times. Run
               with caching off, then on (a cold cache: the first of each input runs, the
               other nine are served): end-to-end wall time of each, and the daemon's CPU per
               task; then the same batch again against the warm cache (every task a hit):
               the daemon's CPU per hit, as hits/s. For echo tasks (no work to save) and for
               sleep 10 ms tasks (work the cache saves) at max_concurrent 1000.
single_flight  1,000 identical sleep 100 ms tasks at max_concurrent 1000: how many sleeps ran
               (the cache's stored count) and the batch's wall time.

Starts its own batchd on loopback (port 0, --durability=none) and stops it (also if killed).
Exits 1 when a check fails (the figures are still printed).
"""
import argparse
import json
import os
import sys
import tempfile
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH_DIR)
from run_all import Servers, _listening_address, proc_cpu_seconds, wait_for  # noqa: E402


def load_stubs(build_dir):
    sys.path.insert(0, os.path.join(build_dir, "python"))
    global grpc, b, bs, bsg, cs, csg
    import grpc  # noqa: F401
    from batchd.v1 import batch_pb2 as b  # noqa: F401
    from batchd.v1 import batch_service_pb2 as bs  # noqa: F401
    from batchd.v1 import batch_service_pb2_grpc as bsg  # noqa: F401
    from batchd.v1 import cache_service_pb2 as cs  # noqa: F401
    from batchd.v1 import cache_service_pb2_grpc as csg  # noqa: F401


class Daemon:
    def __init__(self, servers, binary, *flags):
        self.proc = servers.start(f"batchd-{time.monotonic_ns()}",
                                  [binary, "--listen=127.0.0.1:0", "--durability=none",
                                   "--log-level=warn", "--max-running=100000", *flags])
        self.address = wait_for(lambda: _listening_address(servers.log(self.proc, "out")),
                                "batchd start", 30, self.proc)
        self.channel = grpc.insecure_channel(self.address, options=[
            ("grpc.max_receive_message_length", 64 << 20),
            ("grpc.max_send_message_length", 64 << 20)])
        self.batches = bsg.BatchServiceStub(self.channel)
        self.cache = csg.CacheServiceStub(self.channel)

    def cpu(self):
        return proc_cpu_seconds(self.proc.pid)

    def stats(self):
        return self.cache.GetCacheStats(cs.GetCacheStatsRequest(), timeout=30).stats

    def run(self, tasks, max_concurrent):
        """Submits one batch and reads every result: (results, wall seconds, daemon CPU s)."""
        request = bs.SubmitBatchRequest(tasks=tasks)
        request.options.max_concurrent = max_concurrent
        cpu0 = self.cpu()
        start = time.monotonic()
        batch_id = self.batches.SubmitBatch(request, timeout=120).batch_id
        results = []
        for message in self.batches.StreamResults(bs.StreamResultsRequest(batch_id=batch_id),
                                                  timeout=600):
            results.extend(message.results)
        return results, time.monotonic() - start, self.cpu() - cpu0


def make_tasks(n, executor, distinct, cached, salt):
    tasks = []
    for i in range(n):
        t = b.Task(id=f"t{i}", executor=executor)
        if executor == "sleep":
            t.input.struct_value.update({"ms": 10, "k": f"{salt}-{i % distinct}"})
        else:
            t.input.struct_value.update({"k": f"{salt}-{i % distinct}"})
        if cached:
            t.cache.ttl_ms = 3_600_000
        tasks.append(t)
    return tasks


def succeeded(results):
    return sum(1 for r in results if r.state == b.TASK_STATE_SUCCEEDED)


def bench_repeats(servers, binary, quick):
    n = 20_000 if quick else 100_000
    distinct = n // 10
    out = {"tasks": n, "distinct_inputs": distinct}
    ok = True
    d = Daemon(servers, binary)
    try:
        for executor in ("echo", "sleep"):
            figures = {}
            for mode in ("off", "cold", "warm"):
                # "warm" repeats "cold"'s inputs; "off" and "cold" use inputs never seen.
                salt = f"{executor}-{'cold' if mode == 'warm' else mode}"
                tasks = make_tasks(n, executor, distinct, mode != "off", salt)
                results, wall, cpu = d.run(tasks, max_concurrent=1000)
                hits = sum(1 for r in results if r.cached)
                ok &= succeeded(results) == n
                figures[mode] = {"wall_s": round(wall, 3),
                                 "daemon_cpu_us_per_task": round(cpu / n * 1e6, 2),
                                 "cached": hits}
            figures["speedup_cold_vs_off"] = round(figures["off"]["wall_s"]
                                                   / figures["cold"]["wall_s"], 2)
            figures["warm_hits_per_s_daemon_cpu"] = round(
                1e6 / figures["warm"]["daemon_cpu_us_per_task"])
            ok &= figures["cold"]["cached"] == n - distinct and figures["warm"]["cached"] == n
            out[executor] = figures
        stats = d.stats()
        out["stats"] = {"hits": stats.hits, "misses": stats.misses, "stored": stats.stored,
                        "single_flight_joins": stats.single_flight_joins,
                        "entries": stats.entries, "bytes": stats.bytes}
    finally:
        servers.stop(d.proc)
    out["ok"] = bool(ok)
    return out


def bench_single_flight(servers, binary, quick):
    n = 1000
    d = Daemon(servers, binary)
    try:
        before = d.stats()
        tasks = []
        for i in range(n):
            t = b.Task(id=f"t{i}", executor="sleep")
            t.input.struct_value.update({"ms": 100})
            t.cache.ttl_ms = 60_000
            tasks.append(t)
        results, wall, _ = d.run(tasks, max_concurrent=1000)
        after = d.stats()
    finally:
        servers.stop(d.proc)
    ran = after.stored - before.stored
    joined = after.single_flight_joins - before.single_flight_joins
    out = {"tasks": n, "sleep_ms": 100, "sleeps_run": ran, "waited_for_it": joined,
           "succeeded": succeeded(results), "cached": sum(1 for r in results if r.cached),
           "wall_ms": round(wall * 1000, 1)}
    out["ok"] = ran == 1 and joined == n - 1 and out["succeeded"] == n
    return out


WORKLOADS = {"repeats": bench_repeats, "single_flight": bench_single_flight}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default=",".join(WORKLOADS))
    args = parser.parse_args()
    load_stubs(args.build_dir)
    binary = os.path.join(args.build_dir, "server", "batchd")
    failed = False
    with tempfile.TemporaryDirectory(prefix="batchd-cache-bench-") as work:
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
