"""Python's concurrent.futures.ThreadPoolExecutor on the same workloads as batchd.

  tpe_bench.py noop  --tasks N [--workers W] --runs R   # N no-op calls (peers workload)
  tpe_bench.py sleep --tasks N --workers W --runs R     # N x time.sleep(10 ms)
  tpe_bench.py sequential --tasks N --runs R            # N x time.sleep(10 ms) in a plain loop
One JSON line per run on stdout: wall_s and cpu_s (this process). Submit all, then wait all.
"""
import argparse
import json
import time
from concurrent.futures import ThreadPoolExecutor, wait

from proc_tree import self_cpu_seconds


def noop(_):
    return None


def sleep10(_):
    time.sleep(0.010)


def run_pool(fn, tasks, workers):
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(fn, i) for i in range(tasks)]
        wait(futures)
        for f in futures:
            f.result()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["noop", "sleep", "sequential"])
    p.add_argument("--tasks", type=int, required=True)
    p.add_argument("--workers", type=int, default=None)  # None: Python's default
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    a = p.parse_args()
    for run in range(-a.warmup, a.runs):
        cpu0, t0 = self_cpu_seconds(), time.perf_counter()
        if a.mode == "noop":
            run_pool(noop, a.tasks, a.workers)
        elif a.mode == "sleep":
            run_pool(sleep10, a.tasks, a.workers)
        else:
            for i in range(a.tasks):
                sleep10(i)
        wall, cpu = time.perf_counter() - t0, self_cpu_seconds() - cpu0
        if run >= 0:
            print(json.dumps({"run": run, "tasks": a.tasks, "workers": a.workers,
                              "wall_s": wall, "cpu_s": cpu}), flush=True)


if __name__ == "__main__":
    main()
