"""Celery peer benchmark client: N no-op tasks as one group, all results awaited.

  BENCH_REDIS_URL=redis://127.0.0.1:PORT/0 celery_client.py --tasks N --runs R --pids P1,P2
One JSON line per run: wall_s, client cpu_s, and server_cpu_s of the processes --pids (the
Celery worker and its pool, redis-server) with their descendants.
"""
import argparse
import json
import time

from celery import group

from celery_app import noop
from proc_tree import self_cpu_seconds, tree_cpu_seconds


def wait_for_worker(timeout_s=90):
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            noop.delay(0).get(timeout=5)
            return
        except Exception:  # noqa: BLE001 - the worker may still be starting
            if time.monotonic() > deadline:
                raise


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--tasks", type=int, required=True)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--pids", default="")
    a = p.parse_args()
    pids = [int(x) for x in a.pids.split(",") if x]
    wait_for_worker()
    for run in range(-a.warmup, a.runs):
        server0, cpu0, t0 = tree_cpu_seconds(pids), self_cpu_seconds(), time.perf_counter()
        result = group(noop.s(i) for i in range(a.tasks)).apply_async()
        values = result.get(timeout=1800)
        wall = time.perf_counter() - t0
        cpu, server = self_cpu_seconds() - cpu0, tree_cpu_seconds(pids) - server0
        assert len(values) == a.tasks
        result.forget()
        if run >= 0:
            print(json.dumps({"run": run, "tasks": a.tasks, "wall_s": wall, "cpu_s": cpu,
                              "server_cpu_s": server}), flush=True)


if __name__ == "__main__":
    main()
