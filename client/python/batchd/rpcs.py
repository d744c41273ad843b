"""The daemon's unary RPCs as values: what to call, with which request, and how the answer
becomes the design's types. ``batchd.Client`` runs them on the threaded gRPC API,
``batchd.aio.AsyncClient`` on grpc.aio; neither builds a request or reads an answer itself, so
both always agree. Pure functions (building a request may raise ValueError or TypeError naming
what is wrong, before anything is sent).
"""

import random
from typing import Any, Callable, Dict, Generic, List, Mapping, NamedTuple, Optional, Sequence, TypeVar

from batchd._proto import (batch_pb2, batch_service_pb2, cache_service_pb2, limit_service_pb2)
from batchd.convert import progress_from_proto, result_from_proto, summary_from_proto
from batchd.limits import Limit, LimitStatus, Rate, limit_message, status_from_proto
from batchd.models import (BatchProcessSummary, BatchProgress, BatchResult, BatchTask,
                           ExecutionPlan, ExecutorInfo, TaskStatus)
from batchd.options import (BATCH_STATES, LOAD_BALANCERS, TASK_STATES, batch_options,
                            canonical_name,
                            check_tasks, graph_messages, labels_map, task_message)
from batchd.values import to_value

T = TypeVar("T")

# Services, as the clients name their stubs.
BATCH, LIMITS, CACHE = "batch", "limits", "cache"


class _ClientTimeout:
    """The client's own deadline for short calls (``Client(timeout=...)``)."""


CLIENT_TIMEOUT: Any = _ClientTimeout()


class Rpc(NamedTuple, Generic[T]):
    """One unary call: ``service``'s ``method`` with ``request``; ``convert`` makes the answer
    the value the client returns. ``timeout``: seconds, None for none, or CLIENT_TIMEOUT."""

    service: str
    method: str
    request: Any
    convert: Callable[[Any], T]
    timeout: Any = CLIENT_TIMEOUT


def task_messages(tasks: Sequence[BatchTask], executor: Optional[str]) -> List[batch_pb2.Task]:
    """Tasks for a daemon executor: ``task_data`` is its input, so it must be JSON."""
    out = []
    for task in check_tasks(tasks):
        try:
            value = to_value(task.task_data)
        except TypeError as error:
            raise TypeError(f"task {task.task_id!r}: task_data must be JSON-representable "
                            f"to be a daemon executor's input ({error})") from None
        out.append(task_message(task, task.executor or executor or "", value))
    return out


def _or_client(timeout: Optional[float]) -> Any:
    return CLIENT_TIMEOUT if timeout is None else timeout


# -- batches ------------------------------------------------------------------------------------

def submit_request(request: batch_service_pb2.SubmitBatchRequest) -> Rpc[str]:
    return Rpc(BATCH, "SubmitBatch", request, lambda response: str(response.batch_id))


def submit(tasks: Sequence[BatchTask], executor: Optional[str] = None, *,
           labels: Optional[Mapping[str, str]] = None, request_id: str = "",
           **options: Any) -> Rpc[str]:
    """SubmitBatch; `options` are batch_options' (max_concurrent, retry_policy, ...)."""
    return submit_request(batch_service_pb2.SubmitBatchRequest(
        request_id=request_id, tasks=task_messages(tasks, executor),
        options=batch_options(**options), labels=labels_map(labels)))


def process(tasks: Sequence[BatchTask], executor: Optional[str] = None, *,
            labels: Optional[Mapping[str, str]] = None, request_id: str = "",
            **options: Any) -> Rpc[BatchProcessSummary]:
    """ProcessBatch: the summary once the batch is finished (no deadline)."""
    request = batch_service_pb2.ProcessBatchRequest(
        request_id=request_id, tasks=task_messages(tasks, executor),
        options=batch_options(**options), labels=labels_map(labels))
    return Rpc(BATCH, "ProcessBatch", request,
               lambda response: summary_from_proto(response.summary), None)


def add_tasks(batch_id: str, tasks: Sequence[BatchTask], executor: Optional[str] = None,
              close: bool = False, request_id: str = "") -> Rpc[int]:
    request = batch_service_pb2.AddTasksRequest(
        batch_id=batch_id, tasks=task_messages(tasks, executor), close=close,
        request_id=request_id)
    return Rpc(BATCH, "AddTasks", request, lambda response: int(response.total_tasks))


def close_batch(batch_id: str) -> Rpc[BatchProgress]:
    return Rpc(BATCH, "CloseBatch", batch_service_pb2.CloseBatchRequest(batch_id=batch_id),
               lambda response: progress_from_proto(response.progress))


def progress(batch_id: str) -> Rpc[BatchProgress]:
    return Rpc(BATCH, "GetProgress", batch_service_pb2.GetProgressRequest(batch_id=batch_id),
               lambda response: progress_from_proto(response.progress))


def get(batch_id: str) -> Rpc[BatchProcessSummary]:
    return Rpc(BATCH, "GetBatch", batch_service_pb2.GetBatchRequest(batch_id=batch_id),
               lambda response: summary_from_proto(response.summary))


def _state_numbers(states: Optional[Sequence[str]], names: Dict[int, str],
                   prefix: str) -> List[Any]:
    """The enum numbers of state names: "running", "RUNNING" or `prefix` + "RUNNING" (typed
    Any: the stubs type them as the generated enum's values)."""
    if states is None:
        return []
    if isinstance(states, str):
        raise TypeError(f"states must be a list of state names, not the string {states!r}")
    numbers = {name: number for number, name in names.items()}
    return [numbers[canonical_name("state", state.lower().removeprefix(prefix)
                                   if isinstance(state, str) else state, numbers)]
            for state in states]


def list_batches(limit: int = 0, states: Optional[Sequence[str]] = None,
                 selector: str = "") -> Rpc[List[BatchProgress]]:
    request = batch_service_pb2.ListBatchesRequest(
        limit=limit, states=_state_numbers(states, BATCH_STATES, "batch_state_"),
        label_selector=selector)
    return Rpc(BATCH, "ListBatches", request,
               lambda response: [progress_from_proto(p) for p in response.batches])


class TaskPage(NamedTuple):
    tasks: List[TaskStatus]
    next_page_token: str


def list_tasks_page(batch_id: str, states: Optional[Sequence[str]] = None,
                    page_token: str = "", page_size: int = 10000) -> Rpc[TaskPage]:
    """One page of ListTasks; the clients follow next_page_token to the last page."""
    request = batch_service_pb2.ListTasksRequest(
        batch_id=batch_id, states=_state_numbers(states, TASK_STATES, "task_state_"),
        page_size=page_size, page_token=page_token)

    def convert(response: Any) -> TaskPage:
        return TaskPage([TaskStatus(task_id=t.task_id, state=TASK_STATES.get(t.state, ""),
                                    executor=t.executor, retry_count=t.retry_count,
                                    dependencies=list(t.dependencies), layer=t.layer,
                                    priority=t.priority, duration_ms=t.duration_ms,
                                    worker_id=t.worker_id, error=t.error,
                                    waiting_reason=t.waiting_reason)
                         for t in response.tasks], response.next_page_token)

    return Rpc(BATCH, "ListTasks", request, convert)


def cancel(batch_id: str, reason: str = "",
           timeout: Optional[float] = None) -> Rpc[BatchProgress]:
    return Rpc(BATCH, "CancelBatch",
               batch_service_pb2.CancelBatchRequest(batch_id=batch_id, reason=reason),
               lambda response: progress_from_proto(response.progress), _or_client(timeout))


def cancel_task(batch_id: str, task_id: str, reason: str = "",
                timeout: Optional[float] = None) -> Rpc[BatchResult]:
    request = batch_service_pb2.CancelTaskRequest(batch_id=batch_id, task_id=task_id,
                                                  reason=reason)
    return Rpc(BATCH, "CancelTask", request, lambda response: result_from_proto(response.result),
               _or_client(timeout))


def awaiting_token(progress_now: BatchProgress, batch_id: str, task_id: str) -> str:
    """The token of `task_id`'s attempt waiting for complete_task, from the batch's progress;
    FailedPreconditionError when it is not listed there."""
    from batchd.errors import FailedPreconditionError

    token = next((a.token for a in progress_now.awaiting_completion if a.task_id == task_id),
                 None)
    if token is None:
        raise FailedPreconditionError(
            f"task '{task_id}' of batch {batch_id} is not waiting for completion "
            "(or is not among the first 100 that are: pass token=)")
    return token


def complete_task(batch_id: str, task_id: str, token: str, output: Any = None,
                  error: Optional[str] = None, non_retryable: bool = False,
                  timeout: Optional[float] = None) -> Rpc[str]:
    request = batch_service_pb2.CompleteTaskRequest(batch_id=batch_id, task_id=task_id,
                                                    token=token)
    if error is not None:
        request.error = error
        request.non_retryable = non_retryable
    else:
        request.output.CopyFrom(to_value(output))
    return Rpc(BATCH, "CompleteTask", request,
               lambda response: TASK_STATES.get(response.state, ""), _or_client(timeout))


# -- dry runs and the daemon --------------------------------------------------------------------

def resolve(tasks: Sequence[BatchTask]) -> Rpc[ExecutionPlan]:
    request = batch_service_pb2.ResolveExecutionOrderRequest(
        tasks=graph_messages(check_tasks(tasks)))
    return Rpc(BATCH, "ResolveExecutionOrder", request, lambda response: ExecutionPlan(
        layers=[list(layer.task_ids) for layer in response.layers],
        critical_path=list(response.critical_path)))


def assign_tasks(tasks: Sequence[BatchTask], workers: int, strategy: str = "least_loaded",
                 seed: Optional[int] = None) -> Rpc[List[List[str]]]:
    if workers <= 0:
        raise ValueError("Number of workers must be greater than 0")
    name = canonical_name("load balancer", strategy, LOAD_BALANCERS)
    request = batch_service_pb2.AssignTasksRequest(
        tasks=graph_messages(check_tasks(tasks)), workers=workers,
        strategy=LOAD_BALANCERS[name],
        seed=random.getrandbits(64) if seed is None else seed)
    return Rpc(BATCH, "AssignTasks", request,
               lambda response: [list(worker.task_ids) for worker in response.assignments])


def executors() -> Rpc[List[ExecutorInfo]]:
    return Rpc(BATCH, "ListExecutors", batch_service_pb2.ListExecutorsRequest(),
               lambda response: [ExecutorInfo(e.name, e.kind, e.workers, e.capacity)
                                 for e in response.executors])


# -- shared limits ------------------------------------------------------------------------------

def set_limit(key: str, max_in_flight: Optional[int] = None,
              rates: Optional[Sequence[Rate]] = None,
              units_header: str = "") -> Rpc[LimitStatus]:
    limit = Limit(key, max_in_flight=max_in_flight, rates=list(rates or []),
                  units_header=units_header)
    return Rpc(LIMITS, "SetLimit", limit_service_pb2.SetLimitRequest(limit=limit_message(limit)),
               lambda response: status_from_proto(response.status))


def limits() -> Rpc[List[LimitStatus]]:
    return Rpc(LIMITS, "ListLimits", limit_service_pb2.ListLimitsRequest(),
               lambda response: [status_from_proto(status) for status in response.limits])


def delete_limit(key: str) -> Rpc[None]:
    return Rpc(LIMITS, "DeleteLimit", limit_service_pb2.DeleteLimitRequest(key=key),
               lambda response: None)


# -- the result cache ---------------------------------------------------------------------------

def invalidate_cache(key: Optional[str] = None, namespace: str = "",
                     everything: bool = False) -> Rpc[int]:
    if everything and key is not None:
        raise ValueError("invalidate_cache: give a key or everything, not both")
    request = cache_service_pb2.InvalidateCacheRequest(namespace=namespace)
    if everything:
        request.all = True
    elif key is not None:
        request.key = key
    else:
        request.whole_namespace = True
    return Rpc(CACHE, "InvalidateCache", request, lambda response: int(response.removed))


def cache_stats() -> Rpc[Dict[str, int]]:
    return Rpc(CACHE, "GetCacheStats", cache_service_pb2.GetCacheStatsRequest(),
               lambda response: {f.name: int(getattr(response.stats, f.name))
                                 for f in response.stats.DESCRIPTOR.fields})
