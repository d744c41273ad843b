"""The design's data types: BatchTask, BatchResult, BatchProcessSummary, BatchProgress.

Plain dataclasses with the design's fields, in the design's order and with its defaults, so code
written against the design constructs and reads them unchanged. Fields batchd adds (an executor
name, states, ids) come last and have defaults. Not thread-safe (plain values).
"""

from dataclasses import dataclass, field
from typing import Any, List, Optional


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
    """

    task_id: str
    task_data: Any = None
    priority: float = 0.0
    timeout_ms: Optional[int] = None
    retry_count: int = 0
    dependencies: Optional[List[str]] = None
    executor: Optional[str] = None

    def __post_init__(self) -> None:
        if isinstance(self.dependencies, str):
            raise TypeError(
                f"BatchTask {self.task_id!r}: dependencies must be a list of task ids, "
                f"not the string {self.dependencies!r}"
            )
        self.dependencies = list(self.dependencies) if self.dependencies else []


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
    """

    task_id: str
    success: bool
    result: Optional[Any] = None
    error: Optional[str] = None
    duration_ms: float = 0.0
    retry_count: int = 0
    state: str = ""


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
        """Successful tasks as a percentage of all results (0.0 when there are none)."""
        if not self.results:
            return 0.0
        return self.successful_count / len(self.results) * 100.0

    def avg_duration_ms(self) -> float:
        """Mean ``duration_ms`` of the results (0.0 when there are none)."""
        if not self.results:
            return 0.0
        return sum(r.duration_ms for r in self.results) / len(self.results)


@dataclass
class BatchProgress:
    """How far a batch has come. ``completed_tasks`` counts tasks in a final state."""

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
