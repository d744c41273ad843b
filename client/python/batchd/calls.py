"""Executor calls in this process: the thread pool they run on, the task dict they receive,
and how a return value or an exception becomes the outcome the daemon gets (``Usage`` and
``Throttled`` add what shared limits need: the units used, a refusal for the rate).

A Python call cannot be interrupted. When the daemon cancels an assignment (its timeout
passed, the batch was cancelled) the call is abandoned: the daemon is answered at once, the
call's eventual result is discarded, and its thread stops counting against the pool's size so
new work does not queue behind it. Executors can poll ``batchd.cancelled()`` to stop early.
Thread-safe.
"""

import contextvars
import inspect
import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable, Dict, Mapping, Optional, Protocol

from batchd._proto import struct_pb2, worker_service_pb2
from batchd.call_pool import CallPool
from batchd.errors import NonRetryableError, TaskFailure, Throttled

_log = logging.getLogger("batchd")

Reply = Callable[[worker_service_pb2.TaskOutcome], None]
# Renders an executor's return value for the daemon (may raise TypeError).
Render = Callable[[Any], struct_pb2.Value]
# Adds tasks to a batch: (batch_id, tasks, executor, close, request_id) -> the batch's task count.
Spawner = Callable[[str, Any, Optional[str], bool, str], int]



class CallState(Protocol):
    """What ``spawn``, ``output`` and ``cancelled`` need of the executor call they run in
    (threaded runs and batchd.aio both provide it)."""

    batch_id: str
    spawner: Optional["Spawner"]

    def is_cancelled(self) -> bool: ...

    def send_output(self, text: str) -> bool: ...


# The executor call running in this thread or asyncio task (contextvars: asyncio tasks copy
# the context they were created in, threads start with an empty one).
current_call: "contextvars.ContextVar[Optional[CallState]]" = contextvars.ContextVar(
    "batchd_current_call", default=None)


def spawn(tasks: Any, *, executor: Optional[str] = None, close: bool = False,
          request_id: str = "") -> int:
    """Inside an executor call of a ``batchd.Worker``: adds `tasks` (BatchTask objects) to the
    call's own batch (AddTasks), e.g. the tool calls a planner decided on. The call does not
    wait for them (it holds no slot for them: return when planning is done; a later task that
    depends on them gets their results). Returns how many tasks the batch has now."""
    call = current_call.get()
    if call is None or call.spawner is None:
        raise RuntimeError("batchd.spawn() is for executor calls of a batchd.Worker "
                           "(in an async executor: await batchd.aio.spawn(...))")
    return call.spawner(call.batch_id, tasks, executor, close, request_id)


def output(text: str) -> None:
    """Inside an executor call of a ``batchd.Worker``: sends `text` as partial output of the
    task (an LLM's tokens as they come, a progress line). Clients follow it with
    ``Client.stream_task_output``; it reaches them before the task's result. Dropped silently
    once the daemon has cancelled the call."""
    call = current_call.get()
    if call is None:
        raise RuntimeError("batchd.output() is for executor calls of a batchd.Worker")
    if not isinstance(text, str):
        raise TypeError(f"batchd.output() sends text, not {type(text).__name__}")
    call.send_output(text)


def cancelled() -> bool:
    """True inside an executor call whose assignment the daemon has cancelled (a timeout, the
    batch cancelled, the connection lost): its result will be discarded, so it may stop early.
    False outside executor calls."""
    call = current_call.get()
    return call is not None and call.is_cancelled()


@dataclass(frozen=True)
class Usage:
    """Return ``Usage(result, units_used=N)`` from an executor to report the units the call
    really used (e.g. the tokens an LLM answer reports): the task's shared limits charge the
    difference from the units it named (a refund or a debt). `result` is the task's result,
    as if returned alone."""

    result: Any
    units_used: int

    def __post_init__(self) -> None:
        if isinstance(self.units_used, bool) or not isinstance(self.units_used, int):
            raise TypeError(f"Usage.units_used must be an int (got {self.units_used!r})")
        if self.units_used < 0:
            raise ValueError(f"Usage.units_used must be >= 0 (got {self.units_used})")


def check_sync_executor(function: Any, what: str, async_api: str) -> None:
    """TypeError unless `function` is a plain callable: an ``async def`` (or anything returning
    a coroutine function's awaitable) cannot run on the threaded API's pool."""
    if not callable(function):
        raise TypeError(f"{what} must be callable (got {type(function).__name__})")
    target = getattr(function, "__call__", None) if not inspect.isroutine(function) else None
    if inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(target):
        raise TypeError(f"{what} is an async function: the threaded API calls executors on "
                        f"threads; use {async_api} (its event loop awaits them)")


def describe_exception(error: BaseException) -> str:
    """"ExcType: message" ("ExcType" alone when the message is empty)."""
    message = str(error)
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def failure_outcome(error: BaseException) -> worker_service_pb2.TaskOutcome:
    outcome = worker_service_pb2.TaskOutcome(success=False, error=describe_exception(error))
    if isinstance(error, TaskFailure):
        outcome.non_retryable = not error.retryable
        outcome.throttled = isinstance(error, Throttled)
        if error.retry_after_ms:
            outcome.retry_after_ms = int(error.retry_after_ms)
    return outcome


def task_dict(assignment: worker_service_pb2.TaskAssignment, task_data: Any,
              dependency_results: Mapping[str, Any]) -> Dict[str, Any]:
    """The design's task dict, as executors receive it. ``timeout_ms`` is the attempt's
    effective timeout; ``retry_count`` the retries made so far (0 on the first attempt)."""
    return {
        "task_id": assignment.task_id,
        "batch_id": assignment.batch_id,
        "task_data": task_data,
        "priority": assignment.priority,
        "timeout_ms": assignment.timeout_ms,
        "retry_count": assignment.attempt,
        "dependencies": list(assignment.dependencies),
        "dependency_results": dict(dependency_results),
    }


class _Call:
    __slots__ = ("assignment_id", "reply", "cancelled", "batch_id", "spawner")

    def __init__(self, assignment_id: str, reply: Reply, batch_id: str = "",
                 spawner: Optional[Spawner] = None) -> None:
        self.assignment_id = assignment_id
        self.reply = reply
        self.cancelled = False  # set once, by CallRunner.cancel (a plain store: atomic)
        self.batch_id = batch_id
        self.spawner = spawner

    def is_cancelled(self) -> bool:
        return self.cancelled

    def send_output(self, text: str) -> bool:
        send = getattr(self.reply, "output", None)
        return bool(send(text)) if send is not None else False


class CallRunner:
    """Runs one executor call per assignment on a CallPool and replies its outcome; cancel()
    abandons a running call."""

    def __init__(self, pool: CallPool) -> None:
        self._pool = pool
        self._lock = threading.Lock()
        self._running: Dict[str, _Call] = {}

    def run(
        self,
        assignment_id: str,
        function: Callable[[Dict[str, Any]], Any],
        task: Dict[str, Any],
        reply: Reply,
        render: Render,
        on_success: Optional[Callable[[Any], None]] = None,
        spawner: Optional[Spawner] = None,
    ) -> None:
        """Calls ``function(task)`` on the pool. Its return value, rendered by `render`, is the
        success outcome (after ``on_success(value)``); an exception, or a value `render`
        refuses, is the failure outcome."""
        call = _Call(assignment_id, reply, str(task.get("batch_id", "")), spawner)
        with self._lock:
            self._running[assignment_id] = call

        def job() -> None:
            token = current_call.set(call)
            try:
                outcome = self._call(function, task, render, on_success, call)
            finally:
                current_call.reset(token)
            self._finish(call, outcome)

        try:
            self._pool.submit(job)
        except RuntimeError as error:
            self._finish(call, failure_outcome(error))

    def cancel(self, assignment_id: str) -> None:
        with self._lock:
            call = self._running.pop(assignment_id, None)
        if call is None:
            return
        call.cancelled = True
        # The daemon ignores this outcome; it is what makes the session ack the cancel.
        call.reply(worker_service_pb2.TaskOutcome(success=False, error="Cancelled"))

    def running(self) -> int:
        with self._lock:
            return len(self._running)

    @staticmethod
    def _call(function: Callable[[Dict[str, Any]], Any], task: Dict[str, Any], render: Render,
              on_success: Optional[Callable[[Any], None]],
              call: _Call) -> worker_service_pb2.TaskOutcome:
        try:
            value = function(task)
            if inspect.isawaitable(value):
                close = getattr(value, "close", None)
                if close is not None:
                    close()  # never awaited: no "coroutine was never awaited" warning
                raise NonRetryableError(
                    f"the executor returned {type(value).__name__}, an awaitable: the threaded "
                    "API does not await it (serve async executors with batchd.aio)")
        except BaseException as error:  # noqa: BLE001 - SystemExit in a task fails the task
            _log.debug("task %s raised", task.get("task_id"), exc_info=True)
            return failure_outcome(error)
        units_used: Optional[int] = None
        if isinstance(value, Usage):
            value, units_used = value.result, value.units_used
        try:
            output = render(value)
        except (TypeError, ValueError) as error:
            outcome = failure_outcome(error)
            outcome.non_retryable = True  # the same code returns the same kind of value
        else:
            if on_success is not None and not call.cancelled:
                on_success(value)
            outcome = worker_service_pb2.TaskOutcome(success=True, output=output)
        if units_used is not None:  # used even when the value cannot be sent
            outcome.units_used = units_used
        return outcome

    def _finish(self, call: _Call, outcome: worker_service_pb2.TaskOutcome) -> None:
        with self._lock:
            if self._running.get(call.assignment_id) is not call:
                return  # cancelled: already answered
            del self._running[call.assignment_id]
        call.reply(outcome)
