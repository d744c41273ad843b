"""The design's data types: BatchTask, BatchResult, BatchProcessSummary, BatchProgress.

Plain dataclasses with the design's fields, in the design's order and with its defaults, so code
written against the design constructs and reads them unchanged. Fields batchd adds (an executor
name, states, ids) come last and have defaults. Not thread-safe (plain values).
"""

from dataclasses import dataclass, field
from typing import Any, List, Mapping, Optional, Sequence, Tuple, Union

# What a task uses of shared limits (LimitService keys): (key, units) pairs, plain keys (1
# unit) or a {key: units} mapping.
LimitUses = Union[Sequence[Union[str, Tuple[str, int]]], Mapping[str, int]]


def limit_uses(uses: Optional[LimitUses], owner: str) -> List[Tuple[str, int]]:
    """`uses` as (key, units) pairs, in order; TypeError or ValueError naming `owner` (e.g.
    "BatchTask 'a'") when one is malformed. The daemon checks the rest: that each key is
    configured, and units against its rates' bursts."""
    if uses is None:
        return []
    if isinstance(uses, (str, bytes)):
        raise TypeError(f"{owner}: limits must be a list of keys or (key, units) pairs, or a "
                        f"dict {{key: units}}, not the string {uses!r}")
    try:
        items: List[Any] = (list(uses.items()) if isinstance(uses, Mapping)
                            else list(uses))
    except TypeError:
        raise TypeError(f"{owner}: limits must be a list of keys or (key, units) pairs, or a "
                        f"dict {{key: units}} (got {type(uses).__name__})") from None
    out: List[Tuple[str, int]] = []
    seen = set()
    for index, item in enumerate(items):
        key, units = _limit_use(item, f"{owner}: limits[{index}]")
        if not key:
            raise ValueError(f"{owner}: limits[{index}]: the key must not be empty")
        if units < 1:
            raise ValueError(f"{owner}: limit {key!r} units must be at least 1 (got {units})")
        if key in seen:
            raise ValueError(f"{owner}: limit {key!r} is named twice")
        seen.add(key)
        out.append((key, units))
    return out


def _limit_use(item: Any, where: str) -> Tuple[str, int]:
    if isinstance(item, str):
        return item, 1
    if not isinstance(item, (tuple, list)) or len(item) != 2:
        raise TypeError(f"{where} must be a key or a (key, units) pair (got {item!r})")
    key, units = item
    if not isinstance(key, str):
        raise TypeError(f"{where}: the key must be a str (got {type(key).__name__})")
    if isinstance(units, bool) or not isinstance(units, int):
        raise TypeError(f"{where}: units of limit {key!r} must be an int "
                        f"(got {type(units).__name__})")
    return key, units


@dataclass
class BatchTask:
    """One task of a batch.

    Attributes:
        task_id: Unique within the batch, non-empty.
        task_data: Anything. With BatchProcessor it stays in this process and reaches the
            executor as ``task["task_data"]`` (the same object); the daemon sees its JSON
            rendering when it has one. With ``Client.submit`` it must be JSON-representable:
            it is the task's input for the daemon's executor.
        priority: Higher runs first among ready tasks.
        timeout_ms: Per-attempt timeout; None = the batch's (the processor's ``timeout_ms``).
        retry_count: Retries already performed. Kept for the design's API; batchd counts
            retries itself and reports them in ``BatchResult.retry_count``.
        dependencies: Ids of tasks that must succeed before this one starts.
        executor: batchd addition: the daemon executor that runs the task with
            ``Client.submit`` (e.g. "echo", "http", or a name a ``Worker`` serves). Ignored by
            BatchProcessor, which runs ``task_data``/its executor argument in this process.
        limits: batchd addition: the shared limits (LimitService keys) the task uses, as
            ``[("openai", 1200)]`` (key, units) pairs, plain keys (1 unit) or a dict
            ``{"openai": 1200}``; kept as a list of (key, units) pairs. A ready task waits
            PENDING (throttled) until its limits have room. Added to the batch's
            ``default_limits``; a key in both takes the task's units.
        cache_ttl_ms: batchd addition: serve a stored result of the same call (same executor
            and input, in `cache_namespace`) for this long instead of running, and store this
            task's success; while such a call runs, identical tasks wait for it. None: no cache.
        cache_key: batchd addition: your own cache key (at most 1 KiB) instead of the daemon's
            digest of the executor and input.
        cache_namespace: batchd addition: the namespace the key is looked up in.
    """

    task_id: str
    task_data: Any = None
    priority: float = 0.0
    timeout_ms: Optional[int] = None
    retry_count: int = 0
    dependencies: Optional[List[str]] = None
    executor: Optional[str] = None
    limits: Optional[LimitUses] = None
    cache_ttl_ms: Optional[int] = None
    cache_key: Optional[str] = None
    cache_namespace: Optional[str] = None

    def __post_init__(self) -> None:
        if isinstance(self.dependencies, str):
            raise TypeError(
                f"BatchTask {self.task_id!r}: dependencies must be a list of task ids, "
                f"not the string {self.dependencies!r}"
            )
        self.dependencies = list(self.dependencies) if self.dependencies else []
        self.limits = limit_uses(self.limits, f"BatchTask {self.task_id!r}")
        if self.cache_ttl_ms is None and (self.cache_key is not None
                                          or self.cache_namespace is not None):
            raise ValueError(f"BatchTask {self.task_id!r}: cache_key and cache_namespace need "
                             f"cache_ttl_ms")
        if self.cache_ttl_ms is not None and (isinstance(self.cache_ttl_ms, bool)
                                              or not isinstance(self.cache_ttl_ms, int)
                                              or self.cache_ttl_ms < 0):
            raise ValueError(f"BatchTask {self.task_id!r}: cache_ttl_ms must be a non-negative "
                             f"int (got {self.cache_ttl_ms!r})")


@dataclass
class BatchResult:
    """The final result of one task.

    Attributes:
        task_id: The task this result belongs to.
        success: Whether the task's last attempt succeeded.
        result: With BatchProcessor, the object the executor returned (the same object, never
            serialised); with Client and Worker results, the task's JSON output decoded.
            None when the task failed.
        error: Why the task failed ("ExcType: message" for an exception raised by a Python
            executor, "Timeout after N ms", "Skipped: dependency 'a' failed", ...), else None.
        duration_ms: Duration of the final attempt as measured by the daemon.
        retry_count: Retries performed (attempts - 1).
        state: batchd addition: "succeeded", "failed", "timed_out", "skipped" or "cancelled".
        cached: batchd addition: the result came from the daemon's result cache ...
        cached_from: ... stored by this (batch id, task id); None when not cached.
    """

    task_id: str
    success: bool
    result: Optional[Any] = None
    error: Optional[str] = None
    duration_ms: float = 0.0
    retry_count: int = 0
    state: str = ""
    cached: bool = False
    cached_from: Optional[Tuple[str, str]] = None


@dataclass
class BatchProcessSummary:
    """All results of a batch and its totals, as the daemon computed them.

    ``results`` are in the batch's aggregation order: completion order ("unordered",
    "streaming"), by task id ("ordered") or by priority descending ("priority").
    """

    results: List[BatchResult] = field(default_factory=list)
    total_duration_ms: float = 0.0
    successful_count: int = 0
    failed_count: int = 0
    retried_count: int = 0
    throughput_per_second: float = 0.0
    batch_id: Optional[str] = None
    state: str = ""

    def success_rate(self) -> float:
        """Successful tasks as a percentage of the finished ones, from the counts:
        successful / (successful + failed) x 100 (0.0 when both are 0), so a summary built by
        hand (counts without results) gives the design's figure."""
        finished = self.successful_count + self.failed_count
        if finished <= 0:
            return 0.0
        return self.successful_count / finished * 100.0

    def avg_duration_ms(self) -> float:
        """Mean ``duration_ms`` of the results; a summary without results (built by hand) gives
        total_duration_ms over its task count (successful + failed), else 0.0."""
        if self.results:
            return sum(r.duration_ms for r in self.results) / len(self.results)
        finished = self.successful_count + self.failed_count
        if finished <= 0:
            return 0.0
        return self.total_duration_ms / finished


@dataclass
class LimitWait:
    """Tasks of a batch waiting for one shared limit: `reason` is the daemon's, e.g.
    "waiting for limit 'openai' (rate)" (the cause is paused, concurrency, rate or queued)."""

    key: str
    tasks: int = 0
    reason: str = ""


@dataclass
class AwaitingCompletion:
    """A task of executor "external" waiting for a person or a system to complete it
    (``Client.complete_task``): `token` is its running attempt's, `input` what to review."""

    task_id: str
    token: str
    since: float = 0.0  # seconds since the epoch
    retry_count: int = 0
    input: Any = None


@dataclass
class BatchProgress:
    """How far a batch has come. ``completed_tasks`` counts tasks in a final state;
    ``throttled_tasks`` the pending ones that are ready but wait for shared limits, and
    ``limit_waits`` what they wait on, by key."""

    total_tasks: int = 0
    completed_tasks: int = 0
    successful_tasks: int = 0
    failed_tasks: int = 0
    progress_percentage: float = 0.0
    estimated_remaining_ms: float = 0.0
    batch_id: Optional[str] = None
    state: str = ""
    running_tasks: int = 0
    pending_tasks: int = 0
    throttled_tasks: int = 0
    limit_waits: List[LimitWait] = field(default_factory=list)
    # Running tasks of executor "external" waiting for complete_task (the first 100 listed).
    awaiting_completion_tasks: int = 0
    awaiting_completion: List[AwaitingCompletion] = field(default_factory=list)


@dataclass
class TaskStatus:
    """One task of a batch as it is now (``Client.list_tasks``): its state ("pending",
    "running", "succeeded", ...), its place in the graph, and for a task that does not run yet
    why (``waiting_reason``, e.g. "waiting for 2 dependencies: a, b")."""

    task_id: str
    state: str = ""
    executor: str = ""
    retry_count: int = 0
    dependencies: List[str] = field(default_factory=list)
    layer: int = 0
    priority: float = 0.0
    duration_ms: float = 0.0
    worker_id: str = ""
    error: str = ""
    waiting_reason: str = ""


@dataclass
class ExecutorInfo:
    """An executor the daemon knows: kind "builtin", "plugin" or "worker"."""

    name: str
    kind: str
    workers: int = 0
    capacity: int = 0


@dataclass
class ExecutionPlan:
    """A dry run of a task graph: its execution layers and critical path (task ids)."""

    layers: List[List[str]] = field(default_factory=list)
    critical_path: List[str] = field(default_factory=list)
