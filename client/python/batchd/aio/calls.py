"""Executor calls of batchd.aio: ``async def`` executors as asyncio tasks on the worker's event
loop, plain functions on a thread pool (batchd.calls' CallRunner), and the task dict they get.

A cancel from the daemon (the attempt's timeout, CancelBatch, CancelTask) cancels the
coroutine: ``asyncio.CancelledError`` is raised at its ``await``, its ``finally`` blocks run,
and only once it has ended is the cancel acknowledged (the daemon frees the slot then). A
plain function cannot be interrupted: it is abandoned as with ``batchd.Worker`` (its cancel
acknowledged at once, ``batchd.cancelled()`` true inside it).

Inside an executor call ``batchd.output(text)`` and ``batchd.cancelled()`` work, and an async
executor adds tasks to its batch with ``await batchd.aio.spawn(...)``. Not thread-safe: used
from the loop's thread (the thread pool's outcomes come back through call_soon_threadsafe).
"""

import asyncio
import inspect
from typing import (Any, Awaitable, Callable, Dict, Iterator, Mapping, Optional, Protocol,
                    Sequence)

from batchd._proto import worker_service_pb2
from batchd.call_pool import CallPool
from batchd.calls import (CallRunner, Render, Spawner, Usage, current_call, failure_outcome,
                          task_dict)
from batchd.models import BatchTask

TaskOutcome = worker_service_pb2.TaskOutcome
# Adds tasks to a batch from an async executor: (batch_id, tasks, executor, close, request_id).
AsyncSpawner = Callable[[str, Any, Optional[str], bool, str], Awaitable[int]]
OnSuccess = Callable[[Any], None]


class Outbox(Protocol):
    """Where a call's end goes: one worker connection's (batchd.aio.worker_session)."""

    def complete(self, assignment_id: str,
                 outcome: Optional[worker_service_pb2.TaskOutcome]) -> None:
        """The call ended: its outcome, or None when it ended because it was cancelled."""

    def output(self, assignment_id: str, text: str) -> bool:
        """Partial output of a call in flight; False once it is no longer in flight."""


def is_async_executor(function: Any) -> bool:
    """Whether calling `function` gives a coroutine to await (an ``async def``, a partial of
    one, or an object whose ``__call__`` is one)."""
    if inspect.iscoroutinefunction(function):
        return True
    method = None if inspect.isroutine(function) else getattr(function, "__call__", None)
    return method is not None and inspect.iscoroutinefunction(method)


class LazyDependencies(Mapping[str, Any]):
    """A task's ``dependency_results``: each value is decoded when the executor first reads it
    (most executors of a fan-out never read their dependencies)."""

    __slots__ = ("_names", "_value", "_decoded")

    def __init__(self, names: Sequence[str], value: Callable[[str], Any]) -> None:
        self._names = names
        self._value = value
        self._decoded: Dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        try:
            return self._decoded[name]
        except KeyError:
            if name not in self._names:
                raise
        decoded = self._decoded[name] = self._value(name)
        return decoded

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __repr__(self) -> str:
        return repr(dict(self))


def lazy_task(assignment: worker_service_pb2.TaskAssignment, task_data: Any,
              names: Sequence[str], value: Callable[[str], Any]) -> Dict[str, Any]:
    """batchd.calls.task_dict, with ``dependency_results`` decoded on first read."""
    task = task_dict(assignment, task_data, {})
    task["dependency_results"] = LazyDependencies(names, value)
    return task


class _AsyncCall:
    """One executor call in flight: the CallState that batchd.output/cancelled/spawn find."""

    __slots__ = ("assignment_id", "batch_id", "outbox", "cancelled", "started", "task",
                 "spawner", "async_spawner")

    def __init__(self, assignment_id: str, batch_id: str, outbox: Outbox,
                 async_spawner: Optional[AsyncSpawner]) -> None:
        self.assignment_id = assignment_id
        self.batch_id = batch_id
        self.outbox = outbox
        self.cancelled = False
        self.started = False  # the coroutine has begun (its finally will report its end)
        self.task: Optional["asyncio.Task[None]"] = None
        self.spawner: Optional[Spawner] = _no_sync_spawn
        self.async_spawner = async_spawner

    def is_cancelled(self) -> bool:
        return self.cancelled

    def send_output(self, text: str) -> bool:
        return not self.cancelled and self.outbox.output(self.assignment_id, text)


def _no_sync_spawn(batch_id: str, tasks: Any, executor: Optional[str], close: bool,
                   request_id: str) -> int:
    raise RuntimeError("batchd.spawn() blocks: in an async executor, "
                       "await batchd.aio.spawn(...) instead")


def success_outcome(value: Any, render: Render) -> worker_service_pb2.TaskOutcome:
    """The outcome of a call that returned `value` (a ``Usage`` reports its units); a value
    `render` refuses fails the task without retry (the same code returns the same kind)."""
    units_used: Optional[int] = None
    if type(value) is Usage:
        value, units_used = value.result, value.units_used
    outcome: worker_service_pb2.TaskOutcome
    try:
        outcome = TaskOutcome(success=True, output=render(value))
    except (TypeError, ValueError) as error:
        outcome = failure_outcome(error)
        outcome.non_retryable = True
    if units_used is not None:
        outcome.units_used = units_used
    return outcome


class AsyncCalls:
    """Runs executor calls for assignments and reports each one's end to its Outbox.

    Args:
        pool_size: Threads for plain (sync) executors, made when first needed.
        name: Names the pool's threads.
        spawner: What ``batchd.spawn`` calls in a plain executor (on a pool thread).
        async_spawner: What ``batchd.aio.spawn`` awaits in an async executor.
    """

    def __init__(self, pool_size: int, name: str, spawner: Optional[Spawner] = None,
                 async_spawner: Optional[AsyncSpawner] = None) -> None:
        self._pool_size = pool_size
        self._name = name
        self._spawner = spawner
        self._async_spawner = async_spawner
        self._running: Dict[str, _AsyncCall] = {}
        self._pool: Optional[CallPool] = None
        self._threaded: Optional[CallRunner] = None

    def run(self, assignment_id: str, function: Callable[[Dict[str, Any]], Any],
            is_async: bool, task: Dict[str, Any], outbox: Outbox, render: Render,
            on_success: Optional[OnSuccess] = None) -> None:
        """Starts ``function(task)``: as an asyncio task when `is_async`, else on the pool.
        Its rendered return value is the success outcome (after ``on_success(value)``)."""
        if not is_async:
            self._run_threaded(assignment_id, function, task, outbox, render, on_success)
            return
        call = _AsyncCall(assignment_id, task["batch_id"], outbox, self._async_spawner)
        self._running[assignment_id] = call
        call.task = asyncio.get_running_loop().create_task(
            self._run_coroutine(call, function, task, render, on_success))

    def cancel(self, assignment_id: str) -> None:
        """Cancels a call: a coroutine gets CancelledError (its end is reported when it has
        ended), a plain function is abandoned."""
        call = self._running.get(assignment_id)
        if call is None:
            if self._threaded is not None:
                self._threaded.cancel(assignment_id)
            return
        call.cancelled = True
        assert call.task is not None
        call.task.cancel()
        if not call.started:  # never entered: nothing will run, so nothing to wait for
            del self._running[assignment_id]
            call.outbox.complete(assignment_id, None)

    @property
    def running(self) -> int:
        """Coroutines not yet ended (cancelled ones included)."""
        return len(self._running)

    async def wait_ended(self, timeout: Optional[float] = None) -> bool:
        """Waits (up to `timeout` seconds) for every coroutine running now to end; whether
        they all did."""
        tasks = {call.task for call in self._running.values() if call.task is not None}
        if not tasks:
            return True
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        return not pending

    def shutdown(self) -> None:
        """Threads of the pool exit once idle (running plain calls finish on their own)."""
        if self._pool is not None:
            self._pool.shutdown()

    async def _run_coroutine(self, call: _AsyncCall, function: Callable[[Dict[str, Any]], Any],
                             task: Dict[str, Any], render: Render,
                             on_success: Optional[OnSuccess]) -> None:
        call.started = True
        current_call.set(call)  # this task's own context (a copy made at create_task)
        outcome: Optional[worker_service_pb2.TaskOutcome] = None
        try:
            value = await function(task)
        except asyncio.CancelledError as error:
            if not call.cancelled:  # not the daemon's cancel: the executor's own
                outcome = failure_outcome(error)
        except BaseException as error:  # noqa: BLE001 - SystemExit in a task fails the task
            outcome = failure_outcome(error)
        else:
            outcome = success_outcome(value, render)
            if on_success is not None and outcome.success and not call.cancelled:
                on_success(value.result if type(value) is Usage else value)
        finally:
            del self._running[call.assignment_id]
        call.outbox.complete(call.assignment_id, outcome)

    def _run_threaded(self, assignment_id: str, function: Callable[[Dict[str, Any]], Any],
                      task: Dict[str, Any], outbox: Outbox, render: Render,
                      on_success: Optional[OnSuccess]) -> None:
        if self._threaded is None:
            self._pool = CallPool(self._pool_size, self._name)
            self._threaded = CallRunner(self._pool)
        loop = asyncio.get_running_loop()

        # On a pool thread, or here when the call is cancelled.
        def reply(outcome: worker_service_pb2.TaskOutcome) -> None:
            loop.call_soon_threadsafe(outbox.complete, assignment_id, outcome)

        def output(text: str) -> bool:
            loop.call_soon_threadsafe(outbox.output, assignment_id, text)
            return True

        reply.output = output  # type: ignore[attr-defined]  # batchd.output() finds it
        self._threaded.run(assignment_id, function, task, reply, render, on_success,
                           spawner=self._spawner)


async def spawn(tasks: Sequence[BatchTask], *, executor: Optional[str] = None,
                close: bool = False, request_id: str = "") -> int:
    """Inside an async executor call of an AsyncWorker: adds `tasks` to the call's own batch
    (AddTasks), without waiting for them; how many tasks the batch has now."""
    call = current_call.get()
    async_spawner = getattr(call, "async_spawner", None)
    if call is None or async_spawner is None:
        raise RuntimeError("batchd.aio.spawn() is for async executor calls of a "
                           "batchd.aio.AsyncWorker")
    result: int = await async_spawner(call.batch_id, tasks, executor, close, request_id)
    return result
