"""Client: the BatchService RPCs (submit, follow, inspect and cancel batches) and the
LimitService RPCs (shared limits) in Python terms.

Tasks run in the daemon's executors (echo, sleep, http, shell, plugins) or in callback workers
of any language (``batchd.Worker`` in Python). Thread-safe: gRPC channels and stubs may be used
from several threads.
"""

import threading
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, TypeVar

import grpc

from batchd._proto import (batch_service_pb2, batch_service_pb2_grpc, cache_service_pb2_grpc,
                           limit_service_pb2_grpc)
from batchd.channel import Connection
from batchd.convert import (LocalResults, progress_from_proto, result_from_proto,
                            summary_from_proto)
from batchd.errors import from_rpc_error
from batchd.limits import LimitStatus, Rate
from batchd.models import (BatchProcessSummary, BatchProgress, BatchResult, BatchTask,
                           ExecutionPlan, ExecutorInfo, LimitUses, TaskStatus)
from batchd import rpcs

T = TypeVar("T")

class ResultStream:
    """The results of a batch as they become final, in its aggregation order.

    Iterate it for BatchResult objects; once exhausted, ``summary`` holds the batch's
    BatchProcessSummary (with the results iterated) and ``sequence`` the last result's
    sequence number (resume with ``Client.stream_results(batch_id, after_sequence=...)``).
    ``cancel()`` ends the stream early (from any thread).
    """

    def __init__(self, call: Any, local_results: Optional[LocalResults] = None) -> None:
        self._call = call
        self._local_results = local_results
        self._results: List[BatchResult] = []
        self.summary: Optional[BatchProcessSummary] = None
        self.sequence = 0

    def __iter__(self) -> Iterator[BatchResult]:
        try:
            for message in self._call:
                for proto in message.results:
                    result = result_from_proto(proto, self._local_results)
                    self._results.append(result)
                    yield result
                if message.results:
                    self.sequence = message.sequence
                if message.HasField("summary"):
                    self.summary = summary_from_proto(message.summary, self._results)
        except grpc.RpcError as error:
            raise from_rpc_error(error) from error

    def cancel(self) -> None:
        self._call.cancel()


class TaskOutputStream:
    """A task's partial output as it comes: iterate it for text chunks. Once exhausted,
    ``result`` holds the task's BatchResult, ``offset`` the bytes read so far (resume with
    ``Client.stream_task_output(..., after_offset=offset)``) and ``dropped_bytes`` how many the
    daemon no longer kept when this reader fell behind (it keeps --max-task-output-bytes per
    task). ``cancel()`` ends it early."""

    def __init__(self, call: Any) -> None:
        self._call = call
        self.result: Optional[BatchResult] = None
        self.offset = 0
        self.dropped_bytes = 0

    def __iter__(self) -> Iterator[str]:
        try:
            for message in self._call:
                self.dropped_bytes += message.dropped_bytes
                if message.data:
                    self.offset = message.offset + len(message.data.encode())
                    yield message.data
                if message.HasField("result"):
                    self.result = result_from_proto(message.result)
        except grpc.RpcError as error:
            raise from_rpc_error(error) from error

    def cancel(self) -> None:
        self._call.cancel()


class Client:
    """A connection to batchd's BatchService.

    Args:
        target: "host:port" or "unix:/path"; default $BATCHD_ADDR, else 127.0.0.1:50051.
        timeout: Deadline in seconds of the short calls (submit, get, progress, cancel, list,
            layers, executors); streams and ``process`` have none.

    Errors raise BatchdError subclasses that are also built-in exceptions: ValueError for an
    invalid batch (its message is the daemon's, e.g. "Circular dependency: a -> b -> a"),
    LookupError for an unknown batch id, ConnectionError when the daemon is unreachable.
    """

    def __init__(self, target: Optional[str] = None, *, timeout: Optional[float] = 60.0,
                 token: Optional[str] = None, token_file: Optional[str] = None,
                 tls: Optional[bool] = None, tls_ca: Optional[str] = None,
                 tls_cert: Optional[str] = None, tls_key: Optional[str] = None,
                 tls_server_name: Optional[str] = None,
                 connection: Optional[Connection] = None) -> None:
        if connection is None:
            connection = Connection.make(
                target, token=token, token_file=token_file, tls=tls, tls_ca=tls_ca,
                tls_cert=tls_cert, tls_key=tls_key, tls_server_name=tls_server_name)
        elif target is not None and target != connection.target:
            raise ValueError("Client: give target or connection, not both")
        self.connection = connection
        self.target = connection.target
        self.timeout = timeout
        self._metadata = connection.metadata
        self._channel = connection.channel()
        self._stub = batch_service_pb2_grpc.BatchServiceStub(self._channel)
        self._limits = limit_service_pb2_grpc.LimitServiceStub(self._channel)
        self._cache = cache_service_pb2_grpc.CacheServiceStub(self._channel)
        self._closed = threading.Event()

    # -- submitting ---------------------------------------------------------------------------

    def submit(
        self,
        tasks: Sequence[BatchTask],
        *,
        executor: Optional[str] = None,
        max_concurrent: Optional[int] = None,
        timeout_ms: Optional[int] = None,
        retry_policy: Optional[str] = None,
        aggregation_strategy: Optional[str] = None,
        load_balancer: Optional[str] = None,
        on_dependency_failure: Optional[str] = None,
        wait_for_workers: bool = False,
        max_retries: Optional[int] = None,
        retry_delay_ms: Optional[int] = None,
        default_limits: Optional[LimitUses] = None,
        allow_unknown_limits: bool = False,
        queue_timeout_ms: Optional[int] = None,
        labels: Optional[Mapping[str, str]] = None,
        request_id: str = "",
        open: bool = False,
        close_after_idle_ms: Optional[int] = None,
    ) -> str:
        """Validates and enqueues a batch; returns its id at once.

        Each task runs in ``task.executor``, else `executor`, else "echo"; its ``task_data``
        (JSON-representable) is the executor's input. Options left None keep the daemon's
        defaults. With ``wait_for_workers`` the batch may name executors no worker serves yet.
        Shared limits: every task uses `default_limits` besides its own ``limits`` (a key in
        both takes the task's units); a key no limit is configured for is refused
        (ValueError naming the task and the key) unless `allow_unknown_limits`;
        `queue_timeout_ms` bounds how long a ready task waits for its limits.
        An `open` batch stays unfinished once its tasks are final, so ``add_tasks`` can add
        more, until ``close_batch`` (or ``add_tasks(..., close=True)``, or `close_after_idle_ms`
        with every task final and nothing added). The same `request_id` submits once.
        """
        return self._run(rpcs.submit(
            tasks, executor, labels=labels, request_id=request_id,
            max_concurrent=max_concurrent, timeout_ms=timeout_ms, retry_policy=retry_policy,
            aggregation_strategy=aggregation_strategy, load_balancer=load_balancer,
            on_dependency_failure=on_dependency_failure, wait_for_workers=wait_for_workers,
            max_retries=max_retries, retry_delay_ms=retry_delay_ms,
            default_limits=default_limits, allow_unknown_limits=allow_unknown_limits,
            queue_timeout_ms=queue_timeout_ms, open=open,
            close_after_idle_ms=close_after_idle_ms))

    def add_tasks(self, batch_id: str, tasks: Sequence[BatchTask], *,
                  executor: Optional[str] = None, close: bool = False,
                  request_id: str = "") -> int:
        """Adds tasks to a batch that is not finished and not closed; they may depend on any
        task of it, finished or not. The set is validated with the batch's tasks (ValueError
        with the daemon's message, e.g. a duplicate id or a cycle) and added whole or not at all;
        the same `request_id` adds it once. With `close` the batch is closed after. Returns how
        many tasks the batch has now."""
        return self._run(rpcs.add_tasks(batch_id, tasks, executor, close, request_id))

    def close_batch(self, batch_id: str) -> BatchProgress:
        """Closes an open batch: it finishes once its tasks are final."""
        return self._run(rpcs.close_batch(batch_id))

    def submit_request(self, request: batch_service_pb2.SubmitBatchRequest) -> str:
        """SubmitBatch with a prepared request; the batch id."""
        return self._run(rpcs.submit_request(request))

    def process(self, tasks: Sequence[BatchTask], *, executor: Optional[str] = None,
                **options: Any) -> BatchProcessSummary:
        """Submits a batch and waits for its summary (ProcessBatch). Same arguments as submit."""
        return self._run(rpcs.process(tasks, executor, **options))

    # -- following ----------------------------------------------------------------------------

    def stream_results(self, batch_id: str, after_sequence: int = 0, *,
                       local_results: Optional[LocalResults] = None) -> ResultStream:
        """The batch's results as they become final, then its summary (see ResultStream)."""
        request = batch_service_pb2.StreamResultsRequest(
            batch_id=batch_id, after_sequence=after_sequence)
        return ResultStream(self._stub.StreamResults(request, metadata=self._metadata),
                            local_results)

    def stream_task_output(self, batch_id: str, task_id: str,
                           after_offset: int = 0) -> "TaskOutputStream":
        """The partial output a task sends while it runs (``batchd.output`` in a worker, the
        shell executor's stdout lines), from the start or `after_offset` bytes on, then its
        result (see TaskOutputStream)."""
        request = batch_service_pb2.StreamTaskOutputRequest(
            batch_id=batch_id, task_id=task_id, after_offset=after_offset)
        return TaskOutputStream(self._stub.StreamTaskOutput(request, metadata=self._metadata))

    def watch(self, batch_id: str, min_interval_ms: int = 0) -> Iterator[BatchProgress]:
        """Progress on change (at most every `min_interval_ms`, default 100), ending with the
        final progress."""
        request = batch_service_pb2.WatchProgressRequest(
            batch_id=batch_id, min_interval_ms=min_interval_ms)
        try:
            for message in self._stub.WatchProgress(request, metadata=self._metadata):
                yield progress_from_proto(message.progress)
        except grpc.RpcError as error:
            raise from_rpc_error(error) from error

    def progress(self, batch_id: str) -> BatchProgress:
        return self._run(rpcs.progress(batch_id))

    def get(self, batch_id: str) -> BatchProcessSummary:
        """The batch's summary so far, with the results that are final."""
        return self._run(rpcs.get(batch_id))

    def list(self, limit: int = 0, *, states: Optional[Sequence[str]] = None,
             selector: str = "") -> List[BatchProgress]:
        """Batches the daemon knows, newest first (at most `limit`; 0 = all); only those in
        one of `states` ("running", "succeeded", ...) and whose labels match `selector`
        ("team=ml,env!=prod,tier,!draft"), when given."""
        return self._run(rpcs.list_batches(limit, states, selector))

    def list_tasks(self, batch_id: str, *,
                   states: Optional[Sequence[str]] = None) -> List[TaskStatus]:
        """Every task of a batch in task order with its state now, its dependencies and layer,
        and why one that is not final does not run (``waiting_reason``); only those in one of
        `states` ("pending", "running", ...) when given."""
        tasks: List[TaskStatus] = []
        token = ""
        while True:
            page = self._run(rpcs.list_tasks_page(batch_id, states, token))
            tasks.extend(page.tasks)
            token = page.next_page_token
            if not token:
                return tasks

    def cancel_task(self, batch_id: str, task_id: str, reason: str = "", *,
                    timeout: Optional[float] = None) -> BatchResult:
        """Cancels one task (a running attempt is stopped, a pending one never starts; its
        dependents follow the batch's on_dependency_failure); its CANCELLED result. LookupError
        for an unknown task, FailedPreconditionError for one that already finished."""
        return self._run(rpcs.cancel_task(batch_id, task_id, reason, timeout))

    def complete_task(self, batch_id: str, task_id: str, output: Any = None, *,
                      error: Optional[str] = None, non_retryable: bool = False,
                      token: Optional[str] = None, timeout: Optional[float] = None) -> str:
        """Completes a task of executor "external" (an approval, an outside system's answer):
        it succeeds with `output`, or its attempt fails with `error` (retried as its policy says
        unless `non_retryable`). `token` is its attempt's (``progress().awaiting_completion``);
        without one it is looked up there. Returns the task's new state ("succeeded", "failed"
        or "retry_wait"). PermissionError for a wrong token; FailedPreconditionError
        when the task is not external, not running, or already completed."""
        if token is None:
            token = rpcs.awaiting_token(self.progress(batch_id), batch_id, task_id)
        return self._run(rpcs.complete_task(batch_id, task_id, token, output, error,
                                            non_retryable, timeout))

    def cancel(self, batch_id: str, reason: str = "", *,
               timeout: Optional[float] = None) -> BatchProgress:
        """Cancels the batch's unfinished tasks; its progress afterwards. `timeout` (seconds)
        overrides the client's."""
        return self._run(rpcs.cancel(batch_id, reason, timeout))

    # -- shared limits (LimitService) ---------------------------------------------------------

    def set_limit(self, key: str, *, max_in_flight: Optional[int] = None,
                  rates: Optional[Sequence[Rate]] = None,
                  units_header: str = "") -> LimitStatus:
        """Configures (or reconfigures) the shared limit `key`; its status afterwards. Tasks of
        every batch naming the key share it; tasks waiting on it are reconsidered at once.
        The daemon journals it (it survives a restart). ValueError (InvalidArgumentError)
        when the daemon refuses it, e.g. with neither max_in_flight nor a rate."""
        return self._run(rpcs.set_limit(key, max_in_flight, rates, units_header))

    def limits(self) -> List[LimitStatus]:
        """Every configured limit with its live state, by key."""
        return self._run(rpcs.limits())

    def delete_limit(self, key: str) -> None:
        """Removes the limit `key` (its waiting tasks start, no longer limited); LookupError
        (NotFoundError) when it is not configured."""
        self._run(rpcs.delete_limit(key))

    # -- the result cache (CacheService) ------------------------------------------------------

    def invalidate_cache(self, *, key: Optional[str] = None, namespace: str = "",
                         everything: bool = False) -> int:
        """Drops cached results: the entry of your `key` in `namespace`, every entry of
        `namespace` (no key), or all of them (`everything`). Returns how many went."""
        return self._run(rpcs.invalidate_cache(key, namespace, everything))

    def cache_stats(self) -> Dict[str, int]:
        """The cache's counters: hits, misses, single_flight_joins, stored, too_large,
        evictions, expirations, invalidations, entries, bytes, max_bytes, flights."""
        return self._run(rpcs.cache_stats())

    # -- dry runs and the daemon --------------------------------------------------------------

    def resolve(self, tasks: Sequence[BatchTask]) -> ExecutionPlan:
        """Validates the graph (ValueError on a cycle or unknown dependency); its execution
        layers and critical path."""
        return self._run(rpcs.resolve(tasks))

    def resolve_execution_order(self, tasks: Sequence[BatchTask]) -> List[List[str]]:
        return self.resolve(tasks).layers

    def assign_tasks(self, tasks: Sequence[BatchTask], workers: int,
                     strategy: str = "least_loaded", seed: Optional[int] = None) -> List[List[str]]:
        """How the load balancer `strategy` spreads the tasks over `workers` equal workers:
        one list of task ids per worker. "random" is reproducible with `seed`."""
        return self._run(rpcs.assign_tasks(tasks, workers, strategy, seed))

    def executors(self) -> List[ExecutorInfo]:
        return self._run(rpcs.executors())

    # -- lifetime -----------------------------------------------------------------------------

    def close(self) -> None:
        if not self._closed.is_set():
            self._closed.set()
            self._channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client(target={self.target!r})"

    # -- internals ----------------------------------------------------------------------------

    def _run(self, rpc: "rpcs.Rpc[T]") -> T:
        stub = {rpcs.BATCH: self._stub, rpcs.LIMITS: self._limits, rpcs.CACHE: self._cache}
        timeout = self.timeout if rpc.timeout is rpcs.CLIENT_TIMEOUT else rpc.timeout
        try:
            response = getattr(stub[rpc.service], rpc.method)(
                rpc.request, metadata=self._metadata, timeout=timeout)
        except grpc.RpcError as error:
            raise from_rpc_error(error) from error
        return rpc.convert(response)
