"""Basic usage: the design's first example, run by batchd.

The executor is a Python function called in this process; batchd schedules the tasks
(priorities, concurrency, timeouts, retries) and aggregates the results.

    PYTHONPATH=client/python:build/release/python BATCHD_ADDR=127.0.0.1:50051 \
        python3 client/python/examples/basic_usage.py
"""

from batchd import BatchProcessor, BatchTask


def my_task(task_dict):
    # Task logic here
    return f"Result for {task_dict['task_id']}"


def main() -> None:
    processor = BatchProcessor(
        max_concurrent=10,
        timeout_ms=30000,
        retry_policy="exponential",
        aggregation_strategy="unordered",
    )
    tasks = [
        BatchTask(task_id="task1", task_data=my_task, priority=1.0, timeout_ms=5000),
        BatchTask(task_id="task2", task_data=my_task, priority=0.5),
    ]

    summary = processor.process_batch(tasks, my_task)
    print(f"Completed: {summary.successful_count}/{len(summary.results)}")
    print(f"Throughput: {summary.throughput_per_second:.2f} tasks/sec")
    print(f"Success rate: {summary.success_rate():.1f}%")
    for result in summary.results:
        print(f"  {result.task_id}: {result.result!r} ({result.duration_ms:.1f} ms)")

    # Without an executor, a callable task_data is called with the task dict.
    summary = processor.process_batch(
        [BatchTask("square", lambda task: 7 * 7), BatchTask("greet", lambda task: "hello")])
    print("Callable task_data:", sorted((r.task_id, r.result) for r in summary.results))
    processor.close()


if __name__ == "__main__":
    main()
