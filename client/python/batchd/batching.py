"""The design's four utility functions, with its formulas. Pure functions, no daemon needed."""

import math
from typing import List, Sequence, TypeVar

from batchd.models import BatchProcessSummary, BatchResult

T = TypeVar("T")


def create_task_batches(tasks: Sequence[T], batch_size: int) -> List[List[T]]:
    """Splits `tasks` into consecutive batches of `batch_size` (the last may be shorter).
    ValueError when batch_size < 1."""
    if batch_size < 1:
        raise ValueError("Batch size must be greater than 0")
    items = list(tasks)
    return [items[start:start + batch_size] for start in range(0, len(items), batch_size)]


def merge_batch_summaries(summaries: Sequence[BatchProcessSummary]) -> BatchProcessSummary:
    """One summary of several batches run one after another: results concatenated, counts
    and durations summed, throughput = results / total duration."""
    results: List[BatchResult] = []
    total_duration_ms = 0.0
    successful = failed = retried = 0
    for summary in summaries:
        results.extend(summary.results)
        total_duration_ms += summary.total_duration_ms
        successful += summary.successful_count
        failed += summary.failed_count
        retried += summary.retried_count
    throughput = len(results) / total_duration_ms * 1000.0 if total_duration_ms > 0 else 0.0
    return BatchProcessSummary(
        results=results,
        total_duration_ms=total_duration_ms,
        successful_count=successful,
        failed_count=failed,
        retried_count=retried,
        throughput_per_second=throughput,
    )


def calculate_optimal_batch_size(task_count: int, max_concurrent: int,
                                 min_batch_size: int = 1) -> int:
    """task_count // max_concurrent, at least max(min_batch_size, 1). ValueError when
    max_concurrent < 1."""
    if max_concurrent < 1:
        raise ValueError("max_concurrent must be greater than 0")
    return max(task_count // max_concurrent, max(min_batch_size, 1))


def estimate_batch_duration(task_count: int, avg_task_duration_ms: float,
                            max_concurrent: int) -> float:
    """ceil(task_count / max_concurrent) waves of avg_task_duration_ms each; 0.0 when
    max_concurrent < 1 or the average is not positive."""
    if max_concurrent < 1 or avg_task_duration_ms <= 0:
        return 0.0
    return math.ceil(task_count / max_concurrent) * float(avg_task_duration_ms)
