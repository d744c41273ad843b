"""BatchProcessor: the design's API, with batchd doing the scheduling and Python callables
running in this process.

Each processor is a callback worker of its own: it serves one executor name unique to it
(``executor_name``), registered on first use with ``max_concurrent`` slots. process_batch
submits the tasks under that name; the daemon schedules them (dependencies, priorities,
concurrency, timeouts, retries with its timers, aggregation) and assigns each attempt back
to this process, where the executor runs on a thread pool. Return values stay here as Python
objects; the daemon gets their JSON rendering when they have one. Thread-safe: several
threads may run batches on one processor at once.
"""

import collections
import os
import socket
import threading
import uuid
import weakref
from contextlib import contextmanager
from typing import (Any, Callable, Deque, Dict, Iterator, List, Optional, Sequence, Tuple)

from batchd._proto import batch_pb2, batch_service_pb2, worker_service_pb2
from batchd.call_pool import CallPool
from batchd.calls import CallRunner, Reply, check_sync_executor, task_dict
from batchd.channel import Connection
from batchd.client import Client
from batchd.convert import progress_from_summary
from batchd.errors import BatchdError, NotFoundError, UnavailableError
from batchd.models import (BatchProcessSummary, BatchProgress, BatchResult, BatchTask,
                           LimitUses, limit_uses)
from batchd.options import (AGGREGATION_STRATEGIES, DEPENDENCY_FAILURE, LOAD_BALANCERS,
                            RETRY_POLICIES, batch_options, canonical_name, check_tasks,
                            task_message)
from batchd.values import from_value, try_to_value
from batchd.worker_session import WorkerSession

Executor = Callable[[Dict[str, Any]], Any]
ResultCallback = Callable[[BatchResult], None]

# JSON renderings of task data and results sent to the daemon are informational (the Python
# objects never leave this process): larger ones are sent as null.
MAX_RENDERING_BYTES = 256 * 1024
_MISSING = object()


class _BatchContext:
    """A batch in flight: its tasks, its executor, and the Python results of its tasks.
    Thread-safe."""

    def __init__(self, tasks: Dict[str, BatchTask], executor: Optional[Executor]) -> None:
        self.tasks = tasks
        self.executor = executor
        self._lock = threading.Lock()
        self._results: Dict[str, Any] = {}
        self._current: Dict[str, str] = {}  # task id -> assignment id of its latest attempt

    def begin(self, task_id: str, assignment_id: str) -> None:
        with self._lock:
            self._current[task_id] = assignment_id

    def store(self, task_id: str, assignment_id: str, value: Any) -> None:
        # A superseded attempt (cancelled, timed out and retried) must not overwrite.
        with self._lock:
            if self._current.get(task_id) == assignment_id:
                self._results[task_id] = value

    def result(self, task_id: str, default: Any = None) -> Any:
        with self._lock:
            return self._results.get(task_id, default)


class _ProcessorExecutor:
    """AssignmentHandler of a processor's worker: finds each assignment's batch and runs its
    executor with the task's local data.

    SubmitBatch returns the batch id after the daemon may already have assigned the first
    tasks, so assignments of an unknown batch wait ("parked") while a submit is in flight.
    """

    def __init__(self, runner: CallRunner) -> None:
        self._runner = runner
        self._lock = threading.Lock()
        self._batches: Dict[str, _BatchContext] = {}
        self._submitting = 0
        self._parked: Dict[str, List[Tuple[worker_service_pb2.TaskAssignment, Reply]]] = {}

    @contextmanager
    def submitting(self) -> Iterator[None]:
        with self._lock:
            self._submitting += 1
        try:
            yield
        finally:
            orphans: List[Tuple[worker_service_pb2.TaskAssignment, Reply]] = []
            with self._lock:
                self._submitting -= 1
                if self._submitting == 0:
                    for parked in self._parked.values():
                        orphans.extend(parked)
                    self._parked.clear()
            for assignment, reply in orphans:
                reply(_unknown_batch(assignment))

    def bind(self, batch_id: str, context: _BatchContext) -> None:
        with self._lock:
            self._batches[batch_id] = context
            parked = self._parked.pop(batch_id, [])
        for assignment, reply in parked:
            self._start(context, assignment, reply)

    def unbind(self, batch_id: str) -> None:
        with self._lock:
            self._batches.pop(batch_id, None)

    def start(self, assignment: worker_service_pb2.TaskAssignment, reply: Reply) -> None:
        with self._lock:
            context = self._batches.get(assignment.batch_id)
            if context is None and self._submitting:
                self._parked.setdefault(assignment.batch_id, []).append((assignment, reply))
                return
        if context is None:
            reply(_unknown_batch(assignment))
            return
        self._start(context, assignment, reply)

    def cancel(self, assignment_id: str) -> None:
        with self._lock:
            for batch_id, parked in self._parked.items():
                for index, (assignment, reply) in enumerate(parked):
                    if assignment.assignment_id == assignment_id:
                        del parked[index]
                        reply(worker_service_pb2.TaskOutcome(success=False, error="Cancelled"))
                        return
        self._runner.cancel(assignment_id)

    def _start(self, context: _BatchContext, assignment: worker_service_pb2.TaskAssignment,
               reply: Reply) -> None:
        task = context.tasks.get(assignment.task_id)
        if task is None:
            reply(worker_service_pb2.TaskOutcome(
                success=False, non_retryable=True,
                error=f"Task '{assignment.task_id}' is not part of this batch"))
            return
        function = context.executor if context.executor is not None else task.task_data
        dependencies = {}
        for dependency in assignment.dependencies:
            value = context.result(dependency, _MISSING)
            if value is _MISSING:
                output = assignment.dependency_outputs.get(dependency)
                value = from_value(output) if output is not None else None
            dependencies[dependency] = value
        task_id, assignment_id = assignment.task_id, assignment.assignment_id
        context.begin(task_id, assignment_id)
        self._runner.run(
            assignment_id, function, task_dict(assignment, task.task_data, dependencies), reply,
            render=lambda value: try_to_value(value, MAX_RENDERING_BYTES),
            on_success=lambda value: context.store(task_id, assignment_id, value))


def _unknown_batch(assignment: worker_service_pb2.TaskAssignment) -> worker_service_pb2.TaskOutcome:
    return worker_service_pb2.TaskOutcome(
        success=False, non_retryable=True,
        error=f"Batch '{assignment.batch_id}' is not being processed by this BatchProcessor")


def _unique_executor_name() -> str:
    host = socket.gethostname().split(".")[0][:40] or "host"
    return f"python-{host}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class BatchProcessor:
    """Processes batches of BatchTask with Python executors, scheduled by batchd.

    Args:
        max_concurrent: Tasks of a batch running at once (also the thread pool's size).
        timeout_ms: Default per-attempt timeout; a task's own ``timeout_ms`` overrides it.
        retry_policy: "none", "fixed", "linear" or "exponential" (the daemon's timers: 1000 ms
            fixed; 1000, 1500, 2000 ms linear; 1000, 2000, 4000 ms exponential; 3 retries).
        aggregation_strategy: Order of results: "unordered" (completion order), "ordered"
            (by task id), "streaming" (completion order, each result sent the moment it is
            final) or "priority" (priority descending).
        target: The daemon, "host:port" or "unix:/path"; default $BATCHD_ADDR, else
            127.0.0.1:50051.
        max_retries: batchd addition: retries after the first attempt (default 3).
        retry_delay_ms: batchd addition: the policy's initial (fixed: every) delay.
        on_dependency_failure: batchd addition: "skip_dependents" (default), "run_dependents"
            or "cancel_batch".
        connect_timeout: Seconds to wait for the daemon to accept this processor's worker.
        default_limits: batchd addition: shared limits (LimitService keys) every task uses,
            besides each task's own ``limits``: ``[("openai", 1000)]``, plain keys or a dict.
        allow_unknown_limits: batchd addition: a key no limit is configured for is not
            limited, instead of refused (ValueError) at submit.
        queue_timeout_ms: batchd addition: how long a ready task may wait for its shared
            limits before it ends "timed_out" (None: without bound).
        token, token_file, tls, tls_ca, tls_cert, tls_key, tls_server_name, connection:
            batchd addition: how to reach the daemon, as ``batchd.Client`` takes them.

    Unknown strategy or policy names raise ValueError listing the valid ones.
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
        self._max_retries = max_retries
        self._retry_delay_ms = retry_delay_ms
        self._default_limits = limit_uses(default_limits, "BatchProcessor default_limits")
        self._allow_unknown_limits = allow_unknown_limits
        self._queue_timeout_ms = queue_timeout_ms
        batch_options(max_retries=max_retries, retry_delay_ms=retry_delay_ms,
                      queue_timeout_ms=queue_timeout_ms)  # validates them
        self._load_balancer = "least_loaded"
        self._connect_timeout = connect_timeout

        self._client = Client(target, connection=connection, **security)
        self.executor_name = _unique_executor_name()
        self._pool = CallPool(max_concurrent, "processor")
        self._handler = _ProcessorExecutor(CallRunner(self._pool))
        self._lock = threading.Lock()
        self._session: Optional[WorkerSession] = None
        self._closed = False
        self._batch_id: Optional[str] = None
        self._final_progress: Optional[BatchProgress] = None
        self._finalizer = weakref.finalize(self, _release, None, self._client, self._pool)

    # -- the design's API ---------------------------------------------------------------------

    def process_batch(self, tasks: Sequence[BatchTask], executor: Optional[Executor] = None,
                      *, python_executor: Optional[Executor] = None) -> BatchProcessSummary:
        """Runs the tasks and returns their summary.

        ``executor(task_dict)`` runs each task (or, when executor is None, the task's callable
        ``task_data``), on this process's pool. Its return value becomes the result's
        ``result``, the same object; an exception a failed attempt "ExcType: message", retried
        by the retry policy. Invalid graphs raise ValueError before anything runs ("Circular
        dependency: a -> b -> a", "Unknown dependency 'x' of task 'b'").
        ``python_executor`` is the design's name for `executor`.
        """
        return self._run(tasks, _one_executor(executor, python_executor), None)

    def process_batch_streaming(self, tasks: Sequence[BatchTask],
                                executor: Optional[Executor] = None,
                                callback: Optional[ResultCallback] = None, *,
                                python_executor: Optional[Executor] = None
                                ) -> BatchProcessSummary:
        """process_batch, calling ``callback(result)`` on this thread as each result arrives
        (in the aggregation strategy's order). An exception from the callback cancels the
        batch and propagates."""
        return self._run(tasks, _one_executor(executor, python_executor), callback)

    def resolve_execution_order(self, tasks: Sequence[BatchTask]) -> List[List[str]]:
        """The graph's execution layers (each layer's tasks may run in parallel). ValueError
        on a cycle or an unknown dependency."""
        return self._client.resolve_execution_order(tasks)

    def validate_dependencies(self, tasks: Sequence[BatchTask]) -> bool:
        """True when the graph is valid; like the design, an invalid one raises ValueError
        saying why (a cycle, an unknown dependency, a duplicate id)."""
        self._client.resolve(tasks)
        return True

    def assign_tasks(self, tasks: Sequence[BatchTask], workers: int,
                     seed: Optional[int] = None) -> List[List[BatchTask]]:
        """How the current load balancer spreads the tasks over `workers` workers: one list
        of the given BatchTask objects per worker. ValueError when workers < 1."""
        tasks = check_tasks(tasks)
        by_id: Dict[str, Deque[BatchTask]] = collections.defaultdict(collections.deque)
        for task in tasks:
            by_id[task.task_id].append(task)
        assignment = self._client.assign_tasks(tasks, workers, self._load_balancer, seed)
        return [[by_id[task_id].popleft() for task_id in worker] for worker in assignment]

    def get_progress(self) -> BatchProgress:
        """Progress of the batch in flight, or of the last one run (zeros before any)."""
        with self._lock:
            batch_id, final = self._batch_id, self._final_progress
        if batch_id is None:
            return BatchProgress()
        if final is not None:
            return final
        try:
            return self._client.progress(batch_id)
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
    def client(self) -> Client:
        """The processor's Client, for the lower-level calls (list, watch, cancel, ...)."""
        return self._client

    @property
    def last_batch_id(self) -> Optional[str]:
        with self._lock:
            return self._batch_id

    def close(self) -> None:
        """Unregisters the processor's worker and closes its connections. Idempotent."""
        with self._lock:
            self._closed = True
            session, self._session = self._session, None
        self._finalizer.detach()
        _release(session, self._client, self._pool)

    def __enter__(self) -> "BatchProcessor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"BatchProcessor(max_concurrent={self._max_concurrent}, "
                f"timeout_ms={self._timeout_ms}, retry_policy={self._retry_policy!r}, "
                f"aggregation_strategy={self._aggregation!r}, target={self.target!r})")

    # -- internals ----------------------------------------------------------------------------

    def _run(self, tasks: Sequence[BatchTask], executor: Optional[Executor],
             callback: Optional[ResultCallback]) -> BatchProcessSummary:
        tasks = check_tasks(tasks)
        self._check_executors(tasks, executor)
        if callback is not None and not callable(callback):
            raise TypeError("callback must be callable")
        if not tasks:
            return BatchProcessSummary(state="succeeded")
        self._ensure_worker()
        context = _BatchContext({task.task_id: task for task in tasks}, executor)
        request = batch_service_pb2.SubmitBatchRequest(
            tasks=[task_message(task, self.executor_name,
                                try_to_value(task.task_data, MAX_RENDERING_BYTES))
                   for task in tasks],
            options=self._options())
        with self._handler.submitting():
            batch_id = self._client.submit_request(request)
            self._handler.bind(batch_id, context)
        with self._lock:
            self._batch_id, self._final_progress = batch_id, None
        try:
            summary = self._follow(batch_id, context, callback)
        except BaseException:
            self._cancel_quietly(batch_id)
            raise
        finally:
            self._handler.unbind(batch_id)
        with self._lock:
            if self._batch_id == batch_id:
                self._final_progress = progress_from_summary(summary)
        return summary

    def _follow(self, batch_id: str, context: _BatchContext,
                callback: Optional[ResultCallback]) -> BatchProcessSummary:
        stream = self._client.stream_results(batch_id, local_results=context.result)
        for result in stream:
            if callback is not None:
                callback(result)
        if stream.summary is None:
            raise BatchdError(f"the result stream of batch {batch_id} ended without a summary")
        return stream.summary

    def _options(self) -> batch_pb2.BatchOptions:
        return batch_options(
            max_concurrent=self._max_concurrent, timeout_ms=self._timeout_ms,
            retry_policy=self._retry_policy, aggregation_strategy=self._aggregation,
            load_balancer=self._load_balancer, on_dependency_failure=self._on_dependency_failure,
            max_retries=self._max_retries, retry_delay_ms=self._retry_delay_ms,
            default_limits=self._default_limits, allow_unknown_limits=self._allow_unknown_limits,
            queue_timeout_ms=self._queue_timeout_ms)

    @staticmethod
    def _check_executors(tasks: List[BatchTask], executor: Optional[Executor]) -> None:
        if executor is not None:
            check_sync_executor(executor, "executor", "batchd.aio.AsyncBatchProcessor")
            return
        for task in tasks:
            if callable(task.task_data):
                check_sync_executor(task.task_data, f"task {task.task_id!r}'s task_data",
                                    "batchd.aio.AsyncBatchProcessor")
        missing = [task.task_id for task in tasks if not callable(task.task_data)]
        if missing:
            raise ValueError(f"No executor given and task_data is not callable for tasks: "
                             f"{', '.join(missing[:10])}{' ...' if len(missing) > 10 else ''}")

    def _ensure_worker(self) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("BatchProcessor is closed")
            session, fresh = self._session, self._session is None
            if fresh:
                session = WorkerSession(
                    self._client.connection, name=f"python-{os.getpid()}",
                    executors=[self.executor_name], slots=self._max_concurrent,
                    handler=self._handler)
                self._session = session
                self._finalizer.detach()
                self._finalizer = weakref.finalize(self, _release, session, self._client,
                                                   self._pool)
                session.start()
        assert session is not None
        try:
            # A new session reports an unreachable daemon at once; a registered one that lost
            # its connection gets connect_timeout to come back.
            if session.wait_registered(self._connect_timeout, fail_fast=fresh):
                return
            error: BatchdError = UnavailableError(
                f"batchd at {self.target} did not accept this processor's worker within "
                f"{self._connect_timeout:g}s")
        except BatchdError as raised:
            error = raised
        with self._lock:
            if self._session is session:
                self._session = None
        session.stop(timeout=1.0)
        raise error

    def _cancel_quietly(self, batch_id: str) -> None:
        try:
            self._client.cancel(batch_id, "the Python caller stopped following the batch",
                                timeout=5.0)
        except Exception:  # noqa: BLE001 - the original error matters more
            pass


def _one_executor(executor: Optional[Executor],
                  python_executor: Optional[Executor]) -> Optional[Executor]:
    if executor is not None and python_executor is not None:
        raise TypeError("pass executor or python_executor, not both")
    return executor if executor is not None else python_executor


def _release(session: Optional[WorkerSession], client: Client, pool: CallPool) -> None:
    if session is not None:
        session.stop(timeout=2.0)
    pool.shutdown()
    client.close()
