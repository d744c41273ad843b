#!/usr/bin/python3
"""Live graphs through the real daemon (issue 21): a planner adding its children while they
run, against a batch that had them all from the start. Figures on stdout (JSON).

  bench/live_graph_daemon.py --build-dir build/release [--tasks 10000] [--calls 100]

static   one batch of a planner (echo) and N sleep tasks (--sleep-ms, 100) at max_concurrent
         --concurrency (1,000): the makespan from SubmitBatch to the last result, and the
         daemon's CPU per task.
live     an open batch of the planner alone; then N children in --calls AddTasks calls of N/calls
         tasks each, sent one after the other while the earlier ones run (the last one closes
         the batch): the same makespan and CPU, each AddTasks call's latency, and the daemon's
         CPU per added task beyond the static batch's. The children's AddTasks come from this
         client rather than from a worker's batchd.spawn(): the daemon's side is the same RPC.

Starts its own batchd on loopback (port 0, --durability=none) and stops it. Exits 1 when the
live makespan is over --target (1.1) times the static one (the figures are still printed).
"""
import argparse
import json
import os
import statistics
import tempfile
import sys
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH_DIR)
from run_all import Servers, _listening_address, proc_cpu_seconds, wait_for  # noqa: E402


def load_stubs(build_dir):
    sys.path.insert(0, os.path.join(build_dir, "python"))
    global grpc, b, bs, bsg
    import grpc  # noqa: F401
    from batchd.v1 import batch_pb2 as b  # noqa: F401
    from batchd.v1 import batch_service_pb2 as bs  # noqa: F401
    from batchd.v1 import batch_service_pb2_grpc as bsg  # noqa: F401


def sleep_task(task_id, ms, deps=()):
    t = b.Task(id=task_id, executor="sleep", dependencies=list(deps))
    t.input.number_value = ms
    return t


def planner():
    t = b.Task(id="plan", executor="echo")
    t.input.string_value = "plan"
    return t


def wait_results(batches, batch_id):
    n = 0
    for message in batches.StreamResults(bs.StreamResultsRequest(batch_id=batch_id), timeout=600):
        n += len(message.results)
    return n


def run_static(batches, cpu, args):
    request = bs.SubmitBatchRequest(tasks=[planner()] + [
        sleep_task(f"c{i}", args.sleep_ms, ["plan"]) for i in range(args.tasks)])
    request.options.max_concurrent = args.concurrency
    cpu0, start = cpu(), time.monotonic()
    batch_id = batches.SubmitBatch(request, timeout=120).batch_id
    n = wait_results(batches, batch_id)
    return {"results": n, "makespan_s": time.monotonic() - start, "daemon_cpu_s": cpu() - cpu0}


def run_live(batches, cpu, args):
    request = bs.SubmitBatchRequest(tasks=[planner()])
    request.options.max_concurrent = args.concurrency
    request.options.open = True
    per_call = args.tasks // args.calls
    adds = []
    for c in range(args.calls):
        add = bs.AddTasksRequest(close=c == args.calls - 1, request_id=f"plan-{c}")
        add.tasks.extend(sleep_task(f"c{c * per_call + i}", args.sleep_ms, ["plan"])
                         for i in range(per_call))
        adds.append(add)
    cpu0, start = cpu(), time.monotonic()
    batch_id = batches.SubmitBatch(request, timeout=120).batch_id
    latencies = []
    for add in adds:
        add.batch_id = batch_id
        t0 = time.monotonic()
        batches.AddTasks(add, timeout=120)
        latencies.append(time.monotonic() - t0)
    n = wait_results(batches, batch_id)
    return {"results": n, "makespan_s": time.monotonic() - start, "daemon_cpu_s": cpu() - cpu0,
            "add_calls": len(latencies), "tasks_per_call": per_call,
            "add_latency_ms_median": statistics.median(latencies) * 1000,
            "add_latency_ms_max": max(latencies) * 1000,
            "adding_s": sum(latencies)}


def measure(servers, binary, args):
    proc = servers.start("batchd-live", [binary, "--listen=127.0.0.1:0", "--durability=none",
                                         "--log-level=warn", "--max-running=100000"])
    address = wait_for(lambda: _listening_address(servers.log(proc, "out")), "batchd start",
                       30, proc)
    channel = grpc.insecure_channel(address, options=[
        ("grpc.max_receive_message_length", 64 << 20),
        ("grpc.max_send_message_length", 64 << 20)])
    batches = bsg.BatchServiceStub(channel)

    def cpu():
        return proc_cpu_seconds(proc.pid)

    run_static(batches, cpu, args)  # warm-up: connections, allocator, page cache
    static = run_static(batches, cpu, args)
    live = run_live(batches, cpu, args)
    return static, live


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--tasks", type=int, default=10000)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--sleep-ms", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=1000)
    parser.add_argument("--target", type=float, default=1.1)
    args = parser.parse_args()
    load_stubs(args.build_dir)
    binary = os.path.join(args.build_dir, "server", "batchd")
    with tempfile.TemporaryDirectory(prefix="batchd-live-bench-") as work:
        servers = Servers(work)
        try:
            figures = measure(servers, binary, args)
        finally:
            servers.stop_all()
    static, live = figures
    ratio = live["makespan_s"] / static["makespan_s"]
    out = {
        "tasks": args.tasks, "sleep_ms": args.sleep_ms, "max_concurrent": args.concurrency,
        "static": static, "live": live,
        "makespan_ratio": ratio,
        "static_cpu_us_per_task": static["daemon_cpu_s"] / (args.tasks + 1) * 1e6,
        "live_cpu_us_per_task": live["daemon_cpu_s"] / (args.tasks + 1) * 1e6,
        "extra_cpu_us_per_added_task":
            (live["daemon_cpu_s"] - static["daemon_cpu_s"]) / args.tasks * 1e6,
        "target_ratio": args.target,
    }
    print(json.dumps(out, indent=2))
    ok = ratio <= args.target and live["results"] == static["results"] == args.tasks + 1
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
