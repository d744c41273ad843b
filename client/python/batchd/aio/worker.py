"""AsyncWorker: serve named executors to batchd from asyncio code, like ``batchd.Worker``::

    worker = batchd.aio.AsyncWorker(name="tools", slots=64)

    @worker.executor("fetch")
    async def fetch(task):
        async with session.get(task["task_data"]["url"]) as response:
            return {"status": response.status}

    await worker.run()   # until worker.stop() (or the task running it is cancelled)

``async def`` executors run on the worker's event loop, one asyncio task per assignment (no
thread per task); plain functions run on a pool of `slots` threads. Executors receive the
design's task dict (``dependency_results`` decoded when first read) and return a
JSON-representable value. A timeout or cancel raises ``asyncio.CancelledError`` inside the
coroutine; its slot is freed once the coroutine has ended. Bound to the event loop it is
started on; not thread-safe (use it from that loop).
"""

import asyncio
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, TypeVar

from batchd._proto import worker_service_pb2
from batchd.aio.calls import AsyncCalls, Outbox, TaskOutcome, is_async_executor, lazy_task
from batchd.aio.client import AsyncClient
from batchd.aio.loop import LoopBinding
from batchd.aio.worker_session import AsyncWorkerSession
from batchd.channel import Connection
from batchd.errors import UnavailableError
from batchd.values import from_value
from batchd.worker import _render_output  # the threaded Worker's: the same size bound

ExecutorFunction = Callable[[Dict[str, Any]], Any]
F = TypeVar("F", bound=ExecutorFunction)


class _NamedExecutors:
    """AsyncHandler running each assignment's executor function by name."""

    def __init__(self, functions: Mapping[str, Tuple[ExecutorFunction, bool]],
                 calls: AsyncCalls) -> None:
        self._functions = functions
        self._calls = calls

    def start(self, assignment: worker_service_pb2.TaskAssignment, outbox: Outbox) -> None:
        entry = self._functions.get(assignment.executor)
        if entry is None:
            outbox.complete(assignment.assignment_id, TaskOutcome(
                success=False, non_retryable=True,
                error=f"This worker does not serve executor '{assignment.executor}'"))
            return
        function, is_async = entry
        outputs = assignment.dependency_outputs
        task = lazy_task(assignment, from_value(assignment.input), outputs,
                         lambda name: from_value(outputs[name]))
        self._calls.run(assignment.assignment_id, function, is_async, task, outbox,
                        _render_output)

    def cancel(self, assignment_id: str) -> None:
        self._calls.cancel(assignment_id)


class AsyncWorker:
    """A callback worker serving Python functions (``async def`` or plain) as executors.

    Args:
        target: "host:port" or "unix:/path"; default $BATCHD_ADDR, else 127.0.0.1:50051.
        name: Shown in the daemon's logs; the daemon's worker id is "<name>#<n>".
        slots: Assignments run at once.
        weight: For the "weighted" load balancer.
        labels: Free-form key/values sent with the registration.
        token, token_file, tls, tls_ca, tls_cert, tls_key, tls_server_name, connection: how
            to reach the daemon, as ``batchd.Client`` takes them.
    """

    def __init__(self, target: Optional[str] = None, *, name: str = "python-worker",
                 slots: int = 4, weight: float = 1.0,
                 labels: Optional[Mapping[str, str]] = None,
                 connection: Optional[Connection] = None, **security: Any) -> None:
        if isinstance(slots, bool) or not isinstance(slots, int) or slots < 1:
            raise ValueError(f"slots must be a positive int (got {slots!r})")
        if connection is None:
            connection = Connection.make(target, **security)
        elif target is not None or security:
            raise ValueError("AsyncWorker: give connection alone, or target and its options")
        self._connection = connection
        self._name = name
        self._slots = slots
        self._weight = weight
        self._labels = dict(labels or {})
        self._functions: Dict[str, Tuple[ExecutorFunction, bool]] = {}
        self._binding = LoopBinding("AsyncWorker")
        self._calls = AsyncCalls(slots, name, spawner=self._spawn_from_thread,
                                 async_spawner=self._spawn)
        self._session: Optional[AsyncWorkerSession] = None
        self._spawn_client: Optional[AsyncClient] = None  # made by the first spawn

    def executor(self, name: str) -> Callable[[F], F]:
        """Decorator: serve the function (``async def`` or plain) as executor `name`."""

        def register(function: F) -> F:
            self.add_executor(name, function)
            return function

        return register

    def add_executor(self, name: str, function: ExecutorFunction) -> None:
        if not callable(function):
            raise TypeError(f"executor {name!r} must be callable "
                            f"(got {type(function).__name__})")
        if self._session is not None:
            raise RuntimeError("add executors before the worker starts")
        if name in self._functions:
            raise ValueError(f"executor {name!r} is already registered")
        self._functions[name] = (function, is_async_executor(function))

    @property
    def executors(self) -> List[str]:
        return sorted(self._functions)

    @property
    def worker_id(self) -> str:
        """The daemon's id for this worker while registered, else ""."""
        return self._session.worker_id if self._session is not None else ""

    @property
    def running(self) -> int:
        """Executor coroutines not yet ended (cancelled ones still in their finally count)."""
        return self._calls.running

    async def start(self, timeout: float = 10.0) -> "AsyncWorker":
        """Connects and returns once registered. UnavailableError (ConnectionError) when the
        daemon cannot be reached, at its first failed attempt, or has not registered the
        worker within `timeout`; InvalidArgumentError (ValueError) when it refuses the
        registration (e.g. a builtin executor name). Afterwards the worker reconnects on its
        own whenever the daemon goes away."""
        session = self._start_session()
        try:
            registered = await session.wait_registered(timeout, fail_fast=True)
        except BaseException:
            await self.stop()
            raise
        if not registered:
            await self.stop()
            raise UnavailableError(f"worker '{self._name}' was not registered with batchd at "
                                   f"{session.target} within {timeout:g}s")
        return self

    async def run(self) -> None:
        """Serves until stop() or until the task awaiting run() is cancelled, reconnecting
        whenever the daemon goes away (it need not be up yet). Raises InvalidArgumentError
        when the daemon refuses the registration."""
        session = self._session if self._session is not None else self._start_session()
        try:
            await session.wait_ended()
        finally:
            await self.stop()

    async def stop(self, timeout: float = 5.0) -> None:
        """Closes the stream (the daemon re-dispatches the calls still running, whose
        coroutines are cancelled) and waits for those coroutines to end. Idempotent."""
        self._binding.check()
        session = self._session
        if session is not None:
            await session.stop(timeout)
        await self._calls.wait_ended(timeout)
        self._calls.shutdown()
        client, self._spawn_client = self._spawn_client, None
        if client is not None:
            await client.close()

    async def __aenter__(self) -> "AsyncWorker":
        if self._session is None:
            await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    def __repr__(self) -> str:
        return (f"AsyncWorker(name={self._name!r}, executors={self.executors}, "
                f"slots={self._slots})")

    def _start_session(self) -> AsyncWorkerSession:
        self._binding.check()
        if self._session is not None:
            raise RuntimeError("AsyncWorker.start called twice")
        if not self._functions:
            raise ValueError("a worker needs at least one executor")
        self._session = AsyncWorkerSession(
            self._connection, name=self._name, executors=sorted(self._functions),
            slots=self._slots, weight=self._weight, labels=self._labels,
            handler=_NamedExecutors(dict(self._functions), self._calls))
        self._session.start()
        return self._session

    async def _spawn(self, batch_id: str, tasks: Any, executor: Optional[str], close: bool,
                     request_id: str) -> int:
        """batchd.aio.spawn() of an executor call: AddTasks to the call's batch."""
        if self._spawn_client is None:
            self._spawn_client = AsyncClient(connection=self._connection)
        return await self._spawn_client.add_tasks(batch_id, tasks,
                                                  executor=executor, close=close,
                                                  request_id=request_id)

    def _spawn_from_thread(self, batch_id: str, tasks: Any, executor: Optional[str],
                           close: bool, request_id: str) -> int:
        """batchd.spawn() of a plain executor on a pool thread: the same, on the loop."""
        loop = self._binding.loop
        assert loop is not None
        future = asyncio.run_coroutine_threadsafe(
            self._spawn(batch_id, tasks, executor, close, request_id), loop)
        return future.result()
