"""Dask distributed peer benchmark client: N no-op tasks with Client.map, then gather.

  dask_client.py --scheduler tcp://127.0.0.1:PORT --tasks N --runs R --pids P1,P2
One JSON line per run: wall_s, client cpu_s, and server_cpu_s of the processes --pids (the
Dask scheduler and worker) with their descendants.
"""
import argparse
import json
import time

from distributed import Client

from proc_tree import self_cpu_seconds, tree_cpu_seconds


def noop(i):
    return None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--scheduler", required=True)
    p.add_argument("--tasks", type=int, required=True)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--pids", default="")
    a = p.parse_args()
    pids = [int(x) for x in a.pids.split(",") if x]
    with Client(a.scheduler, timeout=90) as client:
        client.wait_for_workers(1, timeout=90)
        for run in range(-a.warmup, a.runs):
            server0, cpu0, t0 = tree_cpu_seconds(pids), self_cpu_seconds(), time.perf_counter()
            futures = client.map(noop, range(a.tasks), pure=False)
            values = client.gather(futures)
            wall = time.perf_counter() - t0
            cpu, server = self_cpu_seconds() - cpu0, tree_cpu_seconds(pids) - server0
            assert len(values) == a.tasks
            del futures
            if run >= 0:
                print(json.dumps({"run": run, "tasks": a.tasks, "wall_s": wall, "cpu_s": cpu,
                                  "server_cpu_s": server}), flush=True)


if __name__ == "__main__":
    main()
