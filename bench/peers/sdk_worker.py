"""A no-op callback worker written with the Python SDK (client/python, batchd.Worker).

  PYTHONPATH=client/python:<build>/python sdk_worker.py --addr HOST:PORT --executor NAME
Serves NAME, returning None for every task, until SIGTERM; bench/run_all.py then drives it
with bench/worker_bench (ProcessBatch) like the C++ bench/noop_worker.
"""
import argparse
import signal
import sys

import batchd


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--addr", required=True)
    p.add_argument("--executor", required=True)
    p.add_argument("--slots", type=int, default=64)
    a = p.parse_args()
    worker = batchd.Worker(a.addr, name="bench-sdk-noop", slots=a.slots)

    @worker.executor(a.executor)
    def noop(task):  # noqa: ARG001 - the benchmark measures the worker path only
        return None

    signal.signal(signal.SIGTERM, lambda *_: worker.stop())
    worker.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
