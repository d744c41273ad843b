"""A no-op callback worker written with the Python SDK's asyncio API (batchd.aio.AsyncWorker).

  PYTHONPATH=client/python:<build>/python sdk_async_worker.py --addr HOST:PORT --executor NAME
Serves NAME with an ``async def`` executor returning None for every task, until SIGTERM;
bench/python_worker_daemon.py drives it with bench/worker_bench like bench/peers/sdk_worker.py.
"""
import argparse
import asyncio
import signal
import sys

from batchd.aio import AsyncWorker


async def serve(addr, executor, slots):
    worker = AsyncWorker(addr, name="bench-sdk-async-noop", slots=slots)

    @worker.executor(executor)
    async def noop(task):  # noqa: ARG001 - the benchmark measures the worker path only
        return None

    stopping = asyncio.get_running_loop().create_task(worker.run())
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.cancel)
    try:
        await stopping
    except asyncio.CancelledError:
        pass


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--addr", required=True)
    p.add_argument("--executor", required=True)
    p.add_argument("--slots", type=int, default=64)
    a = p.parse_args()
    asyncio.run(serve(a.addr, a.executor, a.slots))
    return 0


if __name__ == "__main__":
    sys.exit(main())
