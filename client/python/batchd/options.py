"""The design's strategy and policy names, and the batch options and task messages built from
them. Pure functions.

Names are the design's ("exponential", "round_robin", ...); case, '-' for '_' and the design's
CamelCase spellings ("RoundRobin") are accepted. An unknown name raises ValueError listing the
valid ones.
"""

import re
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from batchd._proto import batch_pb2, limit_service_pb2, struct_pb2
from batchd.models import BatchTask, LimitUses, limit_uses


def _design_names(enum: Any, prefix: str) -> Dict[str, Any]:
    """{design name: number} of a generated batchd.v1 enum: each value's name without `prefix`,
    in lower case ("RETRY_KIND_EXPONENTIAL" -> "exponential"). UNSPECIFIED (0) has none: in a
    request it means the daemon's default, and answers never carry it."""
    return {name[len(prefix):].lower(): number for name, number in enum.items() if number != 0}


RETRY_POLICIES: Dict[str, Any] = _design_names(batch_pb2.RetryKind, "RETRY_KIND_")
AGGREGATION_STRATEGIES: Dict[str, Any] = _design_names(batch_pb2.Aggregation, "AGGREGATION_")
LOAD_BALANCERS: Dict[str, Any] = _design_names(batch_pb2.LoadBalancer, "LOAD_BALANCER_")
DEPENDENCY_FAILURE: Dict[str, Any] = _design_names(batch_pb2.DependencyFailure,
                                                   "DEPENDENCY_FAILURE_")
RATE_MEASURES: Dict[str, int] = _design_names(limit_service_pb2.RateMeasure, "RATE_MEASURE_")

TASK_STATES: Dict[int, str] = {
    number: name for name, number in _design_names(batch_pb2.TaskState, "TASK_STATE_").items()
}
BATCH_STATES: Dict[int, str] = {
    number: name for name, number in _design_names(batch_pb2.BatchState, "BATCH_STATE_").items()
}

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def canonical_name(what: str, name: Any, valid: Iterable[str]) -> str:
    """`name` in its canonical spelling, or ValueError naming `what` and the valid names."""
    choices = sorted(valid)
    if isinstance(name, str):
        key = _CAMEL_BOUNDARY.sub("_", name.strip()).lower().replace("-", "_")
        if key in choices:
            return key
    raise ValueError(f"Unknown {what} {name!r} (valid: {', '.join(choices)})")


def retry_policy_message(
    policy: str,
    max_retries: Optional[int] = None,
    retry_delay_ms: Optional[int] = None,
) -> batch_pb2.RetryPolicy:
    """The RetryPolicy for a design policy name. Unset numbers keep the daemon's defaults,
    which are the design's: 3 retries, 1000 ms initial delay, +500 ms (linear), x2
    (exponential)."""
    message = batch_pb2.RetryPolicy(kind=RETRY_POLICIES[policy])
    if max_retries is not None:
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0 (got {max_retries})")
        message.max_retries = max_retries
    if retry_delay_ms is not None:
        if retry_delay_ms < 0:
            raise ValueError(f"retry_delay_ms must be >= 0 (got {retry_delay_ms})")
        message.initial_delay_ms = retry_delay_ms
    return message


def batch_options(
    *,
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
    open: bool = False,
    close_after_idle_ms: Optional[int] = None,
) -> batch_pb2.BatchOptions:
    """BatchOptions from design names; None leaves the daemon's default.

    `default_limits` are shared limits every task uses (the forms BatchTask.limits takes);
    with `allow_unknown_limits` a key no limit is configured for is not limited instead of
    refused; `queue_timeout_ms` bounds how long a ready task waits for its limits (then it
    ends "timed_out"; None: without bound)."""
    options = batch_pb2.BatchOptions(
        wait_for_workers=wait_for_workers, allow_unknown_limits=allow_unknown_limits,
        default_limits=limit_use_messages(limit_uses(default_limits, "default_limits")),
        open=open)
    if close_after_idle_ms is not None:
        options.close_after_idle_ms = close_after_idle_ms
    if queue_timeout_ms is not None:
        if queue_timeout_ms < 0:  # 0 is the daemon's to refuse, with its message
            raise ValueError(f"queue_timeout_ms must be >= 0 (got {queue_timeout_ms})")
        options.queue_timeout_ms = queue_timeout_ms
    if max_concurrent is not None:
        options.max_concurrent = max_concurrent
    if timeout_ms is not None:
        options.timeout_ms = timeout_ms
    if retry_policy is not None or max_retries is not None or retry_delay_ms is not None:
        policy = canonical_name("retry policy", retry_policy or "exponential", RETRY_POLICIES)
        options.retry_policy.CopyFrom(retry_policy_message(policy, max_retries, retry_delay_ms))
    if aggregation_strategy is not None:
        name = canonical_name("aggregation strategy", aggregation_strategy,
                              AGGREGATION_STRATEGIES)
        options.aggregation = AGGREGATION_STRATEGIES[name]
    if load_balancer is not None:
        name = canonical_name("load balancer", load_balancer, LOAD_BALANCERS)
        options.load_balancer = LOAD_BALANCERS[name]
    if on_dependency_failure is not None:
        name = canonical_name("dependency failure mode", on_dependency_failure,
                              DEPENDENCY_FAILURE)
        options.on_dependency_failure = DEPENDENCY_FAILURE[name]
    return options


def check_tasks(tasks: Any) -> List[BatchTask]:
    """`tasks` as a list, or TypeError when an element is not a BatchTask."""
    out = list(tasks)
    for index, task in enumerate(out):
        if not isinstance(task, BatchTask):
            raise TypeError(f"tasks[{index}] is a {type(task).__name__}, not a BatchTask")
    return out


def task_message(
    task: BatchTask,
    executor: str,
    input_value: Optional[struct_pb2.Value] = None,
) -> batch_pb2.Task:
    """The proto Task for `task`, run by `executor` with `input_value` (none: no input)."""
    message = batch_pb2.Task(
        id=task.task_id,
        executor=executor,
        priority=float(task.priority),
        timeout_ms=_timeout(task),
        dependencies=task.dependencies or [],
        limits=limit_use_messages(limit_uses(task.limits, f"BatchTask {task.task_id!r}")),
    )
    if input_value is not None:
        message.input.CopyFrom(input_value)
    if task.cache_ttl_ms is not None:
        message.cache.CopyFrom(batch_pb2.CachePolicy(
            ttl_ms=task.cache_ttl_ms, key=task.cache_key or "",
            namespace=task.cache_namespace or ""))
    return message


def limit_use_messages(uses: Iterable[Tuple[str, int]]) -> List[batch_pb2.LimitUse]:
    """LimitUse messages for (key, units) pairs as ``limit_uses`` gives them."""
    return [batch_pb2.LimitUse(key=key, units=units) for key, units in uses]


def graph_messages(tasks: Sequence[BatchTask]) -> List[batch_pb2.Task]:
    """Tasks for the dry-run RPCs (layers, assignment): ids, priorities and edges only."""
    messages = [task_message(task, "") for task in tasks]
    for message in messages:
        message.ClearField("limits")
    return messages


def labels_map(labels: Optional[Mapping[str, str]]) -> Dict[str, str]:
    return {str(k): str(v) for k, v in (labels or {}).items()}


def _timeout(task: BatchTask) -> int:
    if task.timeout_ms is None:
        return 0
    if task.timeout_ms <= 0:
        raise ValueError(f"task {task.task_id!r}: timeout_ms must be positive "
                         f"(got {task.timeout_ms})")
    return int(task.timeout_ms)
