"""batchd.aio: the asyncio API of the batchd client, on grpc.aio.

``AsyncClient`` (every call of ``batchd.Client`` as a coroutine; results, progress and task
output with ``async for``), ``AsyncBatchProcessor`` (the design's BatchProcessor, awaited) and
``AsyncWorker`` (``@worker.executor("name")``, ``await worker.run()``). ``async def``
executors run on the caller's event loop as asyncio tasks; plain functions still work, on a
thread pool. A timeout or cancel raises ``asyncio.CancelledError`` inside the coroutine and
its slot is freed once the coroutine has ended. Inside an executor, ``batchd.output(text)``
and ``batchd.aio.cancelled()`` work as in the threaded API, and ``await batchd.aio.spawn(...)``
adds tasks to the call's batch. Each object belongs to the event loop it is first used on
(another loop gets a RuntimeError); none is thread-safe.
"""

from batchd.aio.calls import spawn
from batchd.aio.client import AsyncClient, AsyncResultStream, AsyncTaskOutputStream
from batchd.aio.processor import AsyncBatchProcessor
from batchd.aio.worker import AsyncWorker
from batchd.calls import cancelled, output

__all__ = [
    "AsyncClient",
    "AsyncResultStream",
    "AsyncTaskOutputStream",
    "AsyncBatchProcessor",
    "AsyncWorker",
    "spawn",
    "cancelled",
    "output",
]
