"""AsyncClient: ``batchd.Client`` on asyncio (grpc.aio), every call a coroutine.

The requests and the answers' conversions are batchd.rpcs', shared with the threaded Client,
so both send the same messages and return the same types; streams (results, task output,
progress) are ``async for`` iterators. Errors raise the same BatchdError subclasses (ValueError
for an invalid batch with the daemon's message, LookupError for an unknown batch id,
ConnectionError when the daemon is unreachable). Bound to one event loop (see LoopBinding):
not thread-safe, use it from its loop.
"""

from typing import Any, AsyncIterator, Dict, List, Mapping, Optional, Sequence, TypeVar

import grpc
import grpc.aio

from batchd import rpcs
from batchd._proto import (batch_service_pb2, batch_service_pb2_grpc, cache_service_pb2_grpc,
                           limit_service_pb2_grpc)
from batchd.aio.loop import LoopBinding
from batchd.channel import Connection
from batchd.convert import LocalResults, progress_from_proto, result_from_proto, summary_from_proto
from batchd.errors import from_rpc_error
from batchd.limits import LimitStatus, Rate
from batchd.models import (BatchProcessSummary, BatchProgress, BatchResult, BatchTask,
                           ExecutionPlan, ExecutorInfo, LimitUses, TaskStatus)

T = TypeVar("T")


class AsyncResultStream:
    """A batch's results as they become final, in its aggregation order: ``async for`` it.
    Once exhausted, ``summary`` holds the BatchProcessSummary (with the results iterated) and
    ``sequence`` the last result's sequence number. ``cancel()`` ends it early."""

    def __init__(self, call: Any, local_results: Optional[LocalResults] = None) -> None:
        self._call = call
        self._local_results = local_results
        self._results: List[BatchResult] = []
        self.summary: Optional[BatchProcessSummary] = None
        self.sequence = 0

    async def __aiter__(self) -> AsyncIterator[BatchResult]:
        try:
            async for message in self._call:
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


class AsyncTaskOutputStream:
    """A task's partial output as it comes: ``async for`` it for text chunks. Once exhausted,
    ``result`` holds the task's BatchResult, ``offset`` the bytes read (resume with
    ``after_offset=``) and ``dropped_bytes`` what the daemon no longer kept for this reader.
    ``cancel()`` ends it early."""

    def __init__(self, call: Any) -> None:
        self._call = call
        self.result: Optional[BatchResult] = None
        self.offset = 0
        self.dropped_bytes = 0

    async def __aiter__(self) -> AsyncIterator[str]:
        try:
            async for message in self._call:
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


class AsyncClient:
    """A connection to batchd, for asyncio code. Same arguments as ``batchd.Client``:

    Args:
        target: "host:port" or "unix:/path"; default $BATCHD_ADDR, else 127.0.0.1:50051.
        timeout: Deadline in seconds of the short calls; streams and ``process`` have none.
        token, token_file, tls, tls_ca, tls_cert, tls_key, tls_server_name, connection: how
            to reach the daemon (see batchd.Connection.make).

    The channel is opened on the event loop running when the client is made, or by its first
    call; ``async with AsyncClient(...) as client:`` closes it.
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
            raise ValueError("AsyncClient: give target or connection, not both")
        self.connection = connection
        self.target = connection.target
        self.timeout = timeout
        self._metadata = connection.metadata
        self._binding = LoopBinding("AsyncClient")
        self._channel: Optional[grpc.aio.Channel] = None
        self._stubs: Dict[str, Any] = {}
        self._closed = False

    # -- submitting ---------------------------------------------------------------------------

    async def submit(
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
        """Validates and enqueues a batch; its id (see ``batchd.Client.submit``). Task data must
        be JSON-representable (TypeError naming the task)."""
        return await self._run(rpcs.submit(
            tasks, executor, labels=labels, request_id=request_id,
            max_concurrent=max_concurrent, timeout_ms=timeout_ms, retry_policy=retry_policy,
            aggregation_strategy=aggregation_strategy, load_balancer=load_balancer,
            on_dependency_failure=on_dependency_failure, wait_for_workers=wait_for_workers,
            max_retries=max_retries, retry_delay_ms=retry_delay_ms,
            default_limits=default_limits, allow_unknown_limits=allow_unknown_limits,
            queue_timeout_ms=queue_timeout_ms, open=open,
            close_after_idle_ms=close_after_idle_ms))

    async def submit_request(self, request: batch_service_pb2.SubmitBatchRequest) -> str:
        """SubmitBatch with a prepared request; the batch id."""
        return await self._run(rpcs.submit_request(request))

    async def process(self, tasks: Sequence[BatchTask], *, executor: Optional[str] = None,
                      **options: Any) -> BatchProcessSummary:
        """Submits a batch and waits for its summary (ProcessBatch). Same arguments as
        submit."""
        return await self._run(rpcs.process(tasks, executor, **options))

    async def add_tasks(self, batch_id: str, tasks: Sequence[BatchTask], *,
                        executor: Optional[str] = None, close: bool = False,
                        request_id: str = "") -> int:
        """Adds tasks to an unfinished, unclosed batch (see ``batchd.Client.add_tasks``); how
        many tasks the batch has now."""
        return await self._run(rpcs.add_tasks(batch_id, tasks, executor, close, request_id))

    async def close_batch(self, batch_id: str) -> BatchProgress:
        """Closes an open batch: it finishes once its tasks are final."""
        return await self._run(rpcs.close_batch(batch_id))

    # -- following ----------------------------------------------------------------------------

    def stream_results(self, batch_id: str, after_sequence: int = 0, *,
                       local_results: Optional[LocalResults] = None) -> AsyncResultStream:
        """The batch's results as they become final, then its summary: ``async for``."""
        request = batch_service_pb2.StreamResultsRequest(batch_id=batch_id,
                                                         after_sequence=after_sequence)
        call = self._stub(rpcs.BATCH).StreamResults(request, metadata=self._metadata)
        return AsyncResultStream(call, local_results)

    def stream_task_output(self, batch_id: str, task_id: str,
                           after_offset: int = 0) -> AsyncTaskOutputStream:
        """The partial output a task sends while it runs, then its result: ``async for``."""
        request = batch_service_pb2.StreamTaskOutputRequest(
            batch_id=batch_id, task_id=task_id, after_offset=after_offset)
        call = self._stub(rpcs.BATCH).StreamTaskOutput(request, metadata=self._metadata)
        return AsyncTaskOutputStream(call)

    async def watch(self, batch_id: str, min_interval_ms: int = 0) -> AsyncIterator[BatchProgress]:
        """Progress on change (at most every `min_interval_ms`, default 100), ending with the
        final progress: ``async for progress in client.watch(batch_id)``."""
        request = batch_service_pb2.WatchProgressRequest(batch_id=batch_id,
                                                         min_interval_ms=min_interval_ms)
        call = self._stub(rpcs.BATCH).WatchProgress(request, metadata=self._metadata)
        try:
            async for message in call:
                yield progress_from_proto(message.progress)
        except grpc.RpcError as error:
            raise from_rpc_error(error) from error
        finally:
            call.cancel()

    async def progress(self, batch_id: str) -> BatchProgress:
        return await self._run(rpcs.progress(batch_id))

    async def get(self, batch_id: str) -> BatchProcessSummary:
        """The batch's summary so far, with the results that are final."""
        return await self._run(rpcs.get(batch_id))

    async def list(self, limit: int = 0, *, states: Optional[Sequence[str]] = None,
                   selector: str = "") -> List[BatchProgress]:
        """As ``Client.list``: newest first, filtered by `states` and the label `selector`."""
        return await self._run(rpcs.list_batches(limit, states, selector))

    async def list_tasks(self, batch_id: str, *,
                         states: Optional[Sequence[str]] = None) -> List[TaskStatus]:
        """As ``Client.list_tasks``: every task with its state now, all pages."""
        tasks: List[TaskStatus] = []
        token = ""
        while True:
            page = await self._run(rpcs.list_tasks_page(batch_id, states, token))
            tasks.extend(page.tasks)
            token = page.next_page_token
            if not token:
                return tasks

    async def cancel(self, batch_id: str, reason: str = "", *,
                     timeout: Optional[float] = None) -> BatchProgress:
        """Cancels the batch's unfinished tasks; its progress afterwards."""
        return await self._run(rpcs.cancel(batch_id, reason, timeout))

    async def cancel_task(self, batch_id: str, task_id: str, reason: str = "", *,
                          timeout: Optional[float] = None) -> BatchResult:
        """Cancels one task; its CANCELLED result (LookupError for an unknown task,
        FailedPreconditionError for one already finished)."""
        return await self._run(rpcs.cancel_task(batch_id, task_id, reason, timeout))

    async def complete_task(self, batch_id: str, task_id: str, output: Any = None, *,
                            error: Optional[str] = None, non_retryable: bool = False,
                            token: Optional[str] = None,
                            timeout: Optional[float] = None) -> str:
        """Completes a task of executor "external" (see ``batchd.Client.complete_task``); the
        task's new state ("succeeded", "failed" or "retry_wait")."""
        if token is None:
            token = rpcs.awaiting_token(await self.progress(batch_id), batch_id, task_id)
        return await self._run(rpcs.complete_task(batch_id, task_id, token, output, error,
                                                  non_retryable, timeout))

    # -- shared limits and the result cache ---------------------------------------------------

    async def set_limit(self, key: str, *, max_in_flight: Optional[int] = None,
                        rates: Optional[Sequence[Rate]] = None,
                        units_header: str = "") -> LimitStatus:
        """Configures the shared limit `key`; its status afterwards."""
        return await self._run(rpcs.set_limit(key, max_in_flight, rates, units_header))

    async def limits(self) -> List[LimitStatus]:
        """Every configured limit with its live state, by key."""
        return await self._run(rpcs.limits())

    async def delete_limit(self, key: str) -> None:
        """Removes the limit `key`; LookupError (NotFoundError) when it is not configured."""
        await self._run(rpcs.delete_limit(key))

    async def invalidate_cache(self, *, key: Optional[str] = None, namespace: str = "",
                               everything: bool = False) -> int:
        """Drops cached results (a key, a namespace, or everything); how many went."""
        return await self._run(rpcs.invalidate_cache(key, namespace, everything))

    async def cache_stats(self) -> Dict[str, int]:
        """The cache's counters (hits, misses, stored, entries, bytes, ...)."""
        return await self._run(rpcs.cache_stats())

    # -- dry runs and the daemon --------------------------------------------------------------

    async def resolve(self, tasks: Sequence[BatchTask]) -> ExecutionPlan:
        """Validates the graph (ValueError on a cycle or unknown dependency); its layers and
        critical path."""
        return await self._run(rpcs.resolve(tasks))

    async def resolve_execution_order(self, tasks: Sequence[BatchTask]) -> List[List[str]]:
        return (await self.resolve(tasks)).layers

    async def assign_tasks(self, tasks: Sequence[BatchTask], workers: int,
                           strategy: str = "least_loaded",
                           seed: Optional[int] = None) -> List[List[str]]:
        """How the load balancer `strategy` spreads the tasks over `workers` workers."""
        return await self._run(rpcs.assign_tasks(tasks, workers, strategy, seed))

    async def executors(self) -> List[ExecutorInfo]:
        return await self._run(rpcs.executors())

    # -- lifetime -----------------------------------------------------------------------------

    async def close(self) -> None:
        """Closes the channel (calls in flight end CANCELLED). Idempotent."""
        if self._closed:
            return
        self._closed = True
        channel, self._channel = self._channel, None
        if channel is not None:
            await channel.close()

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"AsyncClient(target={self.target!r})"

    # -- internals ----------------------------------------------------------------------------

    def _stub(self, service: str) -> Any:
        self._binding.check()
        if self._closed:
            raise RuntimeError("AsyncClient is closed")
        if self._channel is None:
            self._channel = self.connection.aio_channel()
            self._stubs = {
                rpcs.BATCH: batch_service_pb2_grpc.BatchServiceStub(self._channel),
                rpcs.LIMITS: limit_service_pb2_grpc.LimitServiceStub(self._channel),
                rpcs.CACHE: cache_service_pb2_grpc.CacheServiceStub(self._channel),
            }
        return self._stubs[service]

    async def _run(self, rpc: "rpcs.Rpc[T]") -> T:
        method = getattr(self._stub(rpc.service), rpc.method)
        timeout = self.timeout if rpc.timeout is rpcs.CLIENT_TIMEOUT else rpc.timeout
        try:
            response = await method(rpc.request, metadata=self._metadata, timeout=timeout)
        except grpc.RpcError as error:
            raise from_rpc_error(error) from error
        return rpc.convert(response)
