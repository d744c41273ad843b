"""Daemon messages -> the design's data types. Pure functions."""

from typing import Any, Callable, Iterable, List, Optional

from batchd._proto import batch_pb2
from batchd.models import (AwaitingCompletion, BatchProcessSummary, BatchProgress, BatchResult,
                           LimitWait)
from batchd.options import BATCH_STATES, TASK_STATES
from batchd.values import from_value

# Gives the Python result for a successful task, or `missing` to decode the daemon's output.
LocalResults = Callable[[str, Any], Any]
_MISSING = object()


def result_from_proto(message: batch_pb2.TaskResult,
                      local_results: Optional[LocalResults] = None) -> BatchResult:
    result: Any = None
    if message.success:
        result = local_results(message.task_id, _MISSING) if local_results else _MISSING
        if result is _MISSING:
            result = from_value(message.output)
    return BatchResult(
        task_id=message.task_id,
        success=message.success,
        result=result,
        error=message.error or None,
        duration_ms=message.duration_ms,
        retry_count=message.retry_count,
        state=TASK_STATES.get(message.state, ""),
        cached=message.cached,
        cached_from=((message.cached_from.batch_id, message.cached_from.task_id)
                     if message.cached else None),
    )


def summary_from_proto(message: batch_pb2.BatchSummary,
                       results: Optional[Iterable[BatchResult]] = None,
                       local_results: Optional[LocalResults] = None) -> BatchProcessSummary:
    """The summary; `results` replaces the message's own (a streamed summary has none)."""
    if results is None:
        out: List[BatchResult] = [result_from_proto(r, local_results) for r in message.results]
    else:
        out = list(results)
    return BatchProcessSummary(
        results=out,
        total_duration_ms=message.total_duration_ms,
        successful_count=message.successful_count,
        failed_count=message.failed_count,
        retried_count=message.retried_count,
        throughput_per_second=message.throughput_per_second,
        batch_id=message.batch_id or None,
        state=BATCH_STATES.get(message.state, ""),
    )


def progress_from_proto(message: batch_pb2.BatchProgress) -> BatchProgress:
    return BatchProgress(
        total_tasks=message.total_tasks,
        completed_tasks=message.completed_tasks,
        successful_tasks=message.successful_tasks,
        failed_tasks=message.failed_tasks,
        progress_percentage=message.progress_percentage,
        estimated_remaining_ms=message.estimated_remaining_ms,
        batch_id=message.batch_id or None,
        state=BATCH_STATES.get(message.state, ""),
        running_tasks=message.running_tasks,
        pending_tasks=message.pending_tasks,
        throttled_tasks=message.throttled_tasks,
        limit_waits=[LimitWait(w.key, w.tasks, w.reason) for w in message.limit_waits],
        awaiting_completion_tasks=message.awaiting_completion_tasks,
        awaiting_completion=[
            AwaitingCompletion(a.task_id, a.token, a.since.ToMicroseconds() / 1e6, a.retry_count,
                               from_value(a.input))
            for a in message.awaiting_completion],
    )


def progress_from_summary(summary: BatchProcessSummary) -> BatchProgress:
    """The final progress of a finished batch."""
    total = len(summary.results)
    return BatchProgress(
        total_tasks=total,
        completed_tasks=total,
        successful_tasks=summary.successful_count,
        failed_tasks=summary.failed_count,
        progress_percentage=100.0 if total else 0.0,
        estimated_remaining_ms=0.0,
        batch_id=summary.batch_id,
        state=summary.state,
    )
