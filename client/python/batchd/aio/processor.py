"""AsyncBatchProcessor: the design's BatchProcessor on asyncio, with batchd scheduling.

Like ``batchd.BatchProcessor`` it is a callback worker of its own, serving one executor name
unique to it (``executor_name``), registered on first use with ``max_concurrent`` slots:
``await processor.process_batch(tasks, executor)`` submits the tasks under that name and the
daemon assigns each attempt back here. ``async def`` executors run as asyncio tasks on the
caller's loop, plain ones on a thread pool; return values stay here as Python objects.
Assignments that arrive before SubmitBatch has returned the batch id wait for it. Bound to
its event loop; several batches may run at once from tasks of that loop (not thread-safe).
"""

import collections
import inspect
import os
from contextlib import contextmanager
from typing import (Any, Awaitable, Callable, Deque, Dict, Iterator, List, Optional, Sequence,
                    Tuple, Union)

from batchd._proto import batch_service_pb2, worker_service_pb2
from batchd.aio.calls import AsyncCalls, Outbox, is_async_executor, lazy_task
from batchd.aio.client import AsyncClient
from batchd.aio.loop import LoopBinding
from batchd.aio.worker_session import AsyncWorkerSession
from batchd.channel import Connection
from batchd.convert import progress_from_summary
from batchd.errors import BatchdError, NotFoundError, UnavailableError
from batchd.models import (BatchProcessSummary, BatchProgress, BatchResult, BatchTask,
                           LimitUses, limit_uses)
from batchd.options import (AGGREGATION_STRATEGIES, DEPENDENCY_FAILURE, LOAD_BALANCERS,
                            RETRY_POLICIES, batch_options, canonical_name, check_tasks,
                            task_message)
# The threaded processor's: a batch's local results, the refusal of a foreign batch, names.
from batchd.processor import (MAX_RENDERING_BYTES, _BatchContext, _one_executor,
                              _unique_executor_name, _unknown_batch)
from batchd.values import from_value, try_to_value

Executor = Callable[[Dict[str, Any]], Any]
ResultCallback = Callable[[BatchResult], Union[None, Awaitable[None]]]
_MISSING = object()


def _render(value: Any) -> Any:
    return try_to_value(value, MAX_RENDERING_BYTES)


class _ProcessorExecutor:
    """AsyncHandler of a processor's worker: finds each assignment's batch and runs its
    executor with the task's local data; parks assignments of a batch whose SubmitBatch has
    not returned yet."""

    def __init__(self, calls: AsyncCalls) -> None:
        self._calls = calls
        self._batches: Dict[str, _BatchContext] = {}
        self._submitting = 0
        self._parked: Dict[str, List[Tuple[worker_service_pb2.TaskAssignment, Outbox]]] = {}

    @contextmanager
    def submitting(self) -> Iterator[None]:
        self._submitting += 1
        try:
            yield
        finally:
            self._submitting -= 1
            if not self._submitting:
                parked, self._parked = self._parked, {}
                for waiting in parked.values():
                    for assignment, outbox in waiting:
                        outbox.complete(assignment.assignment_id, _unknown_batch(assignment))

    def bind(self, batch_id: str, context: _BatchContext) -> None:
        self._batches[batch_id] = context
        for assignment, outbox in self._parked.pop(batch_id, []):
            self._start(context, assignment, outbox)

    def unbind(self, batch_id: str) -> None:
        self._batches.pop(batch_id, None)

    def start(self, assignment: worker_service_pb2.TaskAssignment, outbox: Outbox) -> None:
        context = self._batches.get(assignment.batch_id)
        if context is not None:
            self._start(context, assignment, outbox)
        elif self._submitting:
            self._parked.setdefault(assignment.batch_id, []).append((assignment, outbox))
        else:
            outbox.complete(assignment.assignment_id, _unknown_batch(assignment))

    def cancel(self, assignment_id: str) -> None:
        for waiting in self._parked.values():
            for index, (assignment, outbox) in enumerate(waiting):
                if assignment.assignment_id == assignment_id:
                    del waiting[index]
                    outbox.complete(assignment_id, None)
                    return
        self._calls.cancel(assignment_id)

    def _start(self, context: _BatchContext, assignment: worker_service_pb2.TaskAssignment,
               outbox: Outbox) -> None:
        task = context.tasks.get(assignment.task_id)
        if task is None:
            outbox.complete(assignment.assignment_id, worker_service_pb2.TaskOutcome(
                success=False, non_retryable=True,
                error=f"Task '{assignment.task_id}' is not part of this batch"))
            return
        function = context.executor if context.executor is not None else task.task_data
        outputs = assignment.dependency_outputs

        def dependency(name: str) -> Any:
            value = context.result(name, _MISSING)
            if value is _MISSING:
                value = from_value(outputs[name]) if name in outputs else None
            return value

        task_id, assignment_id = assignment.task_id, assignment.assignment_id
        context.begin(task_id, assignment_id)
        self._calls.run(
            assignment_id, function, is_async_executor(function),
            lazy_task(assignment, task.task_data, list(assignment.dependencies), dependency),
            outbox, _render, on_success=lambda value: context.store(task_id, assignment_id, value))


class AsyncBatchProcessor:
    """Processes batches of BatchTask with Python executors (``async def`` or plain),
    scheduled by batchd. The arguments are ``batchd.BatchProcessor``'s (max_concurrent,
    timeout_ms, retry_policy, aggregation_strategy, target, max_retries, retry_delay_ms,
    on_dependency_failure, connect_timeout, default_limits, allow_unknown_limits,
    queue_timeout_ms, and how to reach the daemon). Use ``async with`` or ``await close()``.
    """

    def __init__(
        self,
        max_concurrent: int = 10,
        timeout_ms: int = 30000,
        retry_policy: Optional[str] = "exponential",
        aggregation_strategy: Optional[str] = "unordered",
        target: Optional[str] = None,
        *,
        max_retries: Optional[int] = None,
        retry_delay_ms: Optional[int] = None,
        on_dependency_failure: str = "skip_dependents",
        connect_timeout: float = 10.0,
        default_limits: Optional[LimitUses] = None,
        allow_unknown_limits: bool = False,
        queue_timeout_ms: Optional[int] = None,
        connection: Optional[Connection] = None,
        **security: Any,
    ) -> None:
        if not isinstance(max_concurrent, int) or max_concurrent < 1:
            raise ValueError(f"max_concurrent must be a positive integer (got {max_concurrent!r})")
        if not isinstance(timeout_ms, int) or timeout_ms < 1:
            raise ValueError(f"timeout_ms must be a positive integer (got {timeout_ms!r})")
        self._max_concurrent = max_concurrent
        self._timeout_ms = timeout_ms
        self._retry_policy = canonical_name("retry policy", retry_policy or "exponential",
                                            RETRY_POLICIES)
        self._aggregation = canonical_name("aggregation strategy",
                                           aggregation_strategy or "unordered",
                                           AGGREGATION_STRATEGIES)
        self._on_dependency_failure = canonical_name("dependency failure mode",
                                                     on_dependency_failure, DEPENDENCY_FAILURE)
        self._default_limits = limit_uses(default_limits, "AsyncBatchProcessor default_limits")
        self._load_balancer = "least_loaded"
        self._batch_options: Dict[str, Any] = dict(
            max_retries=max_retries, retry_delay_ms=retry_delay_ms,
            allow_unknown_limits=allow_unknown_limits, queue_timeout_ms=queue_timeout_ms)
        batch_options(**self._batch_options)  # validates them
        self._connect_timeout = connect_timeout
        self._binding = LoopBinding("AsyncBatchProcessor")
        self._client = AsyncClient(target, connection=connection, **security)
        self.executor_name = _unique_executor_name()
        self._calls = AsyncCalls(max_concurrent, "async-processor")
        self._handler = _ProcessorExecutor(self._calls)
        self._session: Optional[AsyncWorkerSession] = None
        self._closed = False
        self._batch_id: Optional[str] = None
        self._final_progress: Optional[BatchProgress] = None

    # -- the design's API ---------------------------------------------------------------------

    async def process_batch(self, tasks: Sequence[BatchTask],
                            executor: Optional[Executor] = None, *,
                            python_executor: Optional[Executor] = None) -> BatchProcessSummary:
        """Runs the tasks and returns their summary. ``executor(task_dict)`` (awaited when it
        is an ``async def``; else, with no executor, each task's callable ``task_data``) runs
        each task; its return value is the result's ``result``, the same object. Invalid
        graphs raise ValueError with the daemon's message before anything runs."""
        return await self._run(tasks, _one_executor(executor, python_executor), None)

    async def process_batch_streaming(self, tasks: Sequence[BatchTask],
                                      executor: Optional[Executor] = None,
                                      callback: Optional[ResultCallback] = None, *,
                                      python_executor: Optional[Executor] = None
                                      ) -> BatchProcessSummary:
        """process_batch, calling ``callback(result)`` (awaited when it returns an
        awaitable) as each result arrives. An exception from it cancels the batch and
        propagates."""
        return await self._run(tasks, _one_executor(executor, python_executor), callback)

    async def resolve_execution_order(self, tasks: Sequence[BatchTask]) -> List[List[str]]:
        """The graph's execution layers. ValueError on a cycle or an unknown dependency."""
        return await self._client.resolve_execution_order(tasks)

    async def validate_dependencies(self, tasks: Sequence[BatchTask]) -> bool:
        """True when the graph is valid; an invalid one raises ValueError saying why."""
        await self._client.resolve(tasks)
        return True

    async def assign_tasks(self, tasks: Sequence[BatchTask], workers: int,
                           seed: Optional[int] = None) -> List[List[BatchTask]]:
        """How the current load balancer spreads the tasks over `workers` workers: one list
        of the given BatchTask objects per worker."""
        tasks = check_tasks(tasks)
        by_id: Dict[str, Deque[BatchTask]] = collections.defaultdict(collections.deque)
        for task in tasks:
            by_id[task.task_id].append(task)
        plan = await self._client.assign_tasks(tasks, workers, self._load_balancer, seed)
        return [[by_id[task_id].popleft() for task_id in worker] for worker in plan]

    async def get_progress(self) -> BatchProgress:
        """Progress of the batch in flight, or of the last one run (zeros before any)."""
        batch_id, final = self._batch_id, self._final_progress
        if batch_id is None:
            return BatchProgress()
        if final is not None:
            return final
        try:
            return await self._client.progress(batch_id)
        except NotFoundError:
            return BatchProgress(batch_id=batch_id)

    def set_load_balancer(self, strategy: str) -> None:
        """"round_robin", "least_loaded" (default), "weighted" or "random"."""
        self._load_balancer = canonical_name("load balancer", strategy, LOAD_BALANCERS)

    def get_load_balancer(self) -> str:
        return self._load_balancer

    # -- batchd additions ---------------------------------------------------------------------

    @property
    def max_concurrent(self) -> int:
        return self._max_concurrent

    @property
    def timeout_ms(self) -> int:
        return self._timeout_ms

    @property
    def retry_policy(self) -> str:
        return self._retry_policy

    @property
    def aggregation_strategy(self) -> str:
        return self._aggregation

    @property
    def target(self) -> str:
        return self._client.target

    @property
    def client(self) -> AsyncClient:
        """The processor's AsyncClient, for the lower-level calls."""
        return self._client

    @property
    def last_batch_id(self) -> Optional[str]:
        return self._batch_id

    async def close(self) -> None:
        """Unregisters the processor's worker (its running coroutines are cancelled) and
        closes its connections. Idempotent."""
        self._binding.check()
        self._closed = True
        session, self._session = self._session, None
        if session is not None:
            await session.stop(timeout=2.0)
        await self._calls.wait_ended(timeout=5.0)
        self._calls.shutdown()
        await self._client.close()

    async def __aenter__(self) -> "AsyncBatchProcessor":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    def __repr__(self) -> str:
        return (f"AsyncBatchProcessor(max_concurrent={self._max_concurrent}, "
                f"timeout_ms={self._timeout_ms}, retry_policy={self._retry_policy!r}, "
                f"aggregation_strategy={self._aggregation!r}, target={self.target!r})")

    # -- internals ----------------------------------------------------------------------------

    async def _run(self, tasks: Sequence[BatchTask], executor: Optional[Executor],
                   callback: Optional[ResultCallback]) -> BatchProcessSummary:
        tasks = check_tasks(tasks)
        if executor is not None and not callable(executor):
            raise TypeError(f"executor must be callable (got {type(executor).__name__})")
        missing = [task.task_id for task in tasks if executor is None
                   and not callable(task.task_data)]
        if missing:
            raise ValueError(f"No executor given and task_data is not callable for tasks: "
                             f"{', '.join(missing[:10])}{' ...' if len(missing) > 10 else ''}")
        if callback is not None and not callable(callback):
            raise TypeError("callback must be callable")
        if not tasks:
            return BatchProcessSummary(state="succeeded")
        await self._ensure_worker()
        context = _BatchContext({task.task_id: task for task in tasks}, executor)
        request = batch_service_pb2.SubmitBatchRequest(
            tasks=[task_message(task, self.executor_name, _render(task.task_data))
                   for task in tasks],
            options=batch_options(
                max_concurrent=self._max_concurrent, timeout_ms=self._timeout_ms,
                retry_policy=self._retry_policy, aggregation_strategy=self._aggregation,
                load_balancer=self._load_balancer,
                on_dependency_failure=self._on_dependency_failure,
                default_limits=self._default_limits, **self._batch_options))
        with self._handler.submitting():
            batch_id = await self._client.submit_request(request)
            self._handler.bind(batch_id, context)
        self._batch_id, self._final_progress = batch_id, None
        try:
            summary = await self._follow(batch_id, context, callback)
        except BaseException:
            await self._cancel_quietly(batch_id)
            raise
        finally:
            self._handler.unbind(batch_id)
        if self._batch_id == batch_id:
            self._final_progress = progress_from_summary(summary)
        return summary

    async def _follow(self, batch_id: str, context: _BatchContext,
                      callback: Optional[ResultCallback]) -> BatchProcessSummary:
        stream = self._client.stream_results(batch_id, local_results=context.result)
        async for result in stream:
            if callback is not None:
                returned = callback(result)
                if inspect.isawaitable(returned):
                    await returned
        if stream.summary is None:
            raise BatchdError(f"the result stream of batch {batch_id} ended without a summary")
        return stream.summary

    async def _ensure_worker(self) -> None:
        self._binding.check()
        if self._closed:
            raise RuntimeError("AsyncBatchProcessor is closed")
        session, fresh = self._session, self._session is None
        if session is None:
            session = self._session = AsyncWorkerSession(
                self._client.connection, name=f"python-{os.getpid()}",
                executors=[self.executor_name], slots=self._max_concurrent,
                handler=self._handler)
            session.start()
        try:
            # A new session reports an unreachable daemon at once; a registered one that lost
            # its connection gets connect_timeout to come back.
            if await session.wait_registered(self._connect_timeout, fail_fast=fresh):
                return
            error: BatchdError = UnavailableError(
                f"batchd at {self.target} did not accept this processor's worker within "
                f"{self._connect_timeout:g}s")
        except BatchdError as raised:
            error = raised
        if self._session is session:
            self._session = None
        await session.stop(timeout=1.0)
        raise error

    async def _cancel_quietly(self, batch_id: str) -> None:
        try:
            await self._client.cancel(batch_id, "the Python caller stopped following the batch",
                                      timeout=5.0)
        except Exception:  # noqa: BLE001 - the original error matters more
            pass
