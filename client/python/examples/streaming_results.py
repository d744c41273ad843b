"""Streaming results: the callback runs as each task finishes, not when the batch ends.

Three "downloads" of different lengths run at once; their results are printed in completion
order, with the time each arrived.
"""

import time

from batchd import BatchProcessor, BatchTask

START = time.monotonic()


def my_executor(task):
    time.sleep(task["task_data"]["seconds"])
    if task["task_id"] == "broken.zip":
        raise IOError("checksum mismatch")
    return f"{task['task_data']['seconds'] * 100:.0f} MB"


def result_callback(result):
    at = time.monotonic() - START
    if result.success:
        print(f"✓ {result.task_id}: {result.result}  (+{at:.2f}s)")
    else:
        print(f"✗ {result.task_id}: {result.error}  (+{at:.2f}s)")


def main() -> None:
    processor = BatchProcessor(max_concurrent=4, retry_policy="none",
                               aggregation_strategy="streaming")
    tasks = [
        BatchTask("large.iso", {"seconds": 0.6}),
        BatchTask("small.txt", {"seconds": 0.05}),
        BatchTask("medium.tar", {"seconds": 0.3}),
        BatchTask("broken.zip", {"seconds": 0.15}),
    ]
    summary = processor.process_batch_streaming(
        tasks,
        executor=my_executor,
        callback=result_callback,
    )
    print(f"{summary.successful_count} ok, {summary.failed_count} failed in "
          f"{summary.total_duration_ms:.0f} ms")
    assert [r.task_id for r in summary.results] == [
        "small.txt", "broken.zip", "medium.tar", "large.iso"]
    processor.close()


if __name__ == "__main__":
    main()
