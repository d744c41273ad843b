"""The design's own unit suite, run against batchd.

The seed design ("Rust Batch Processing Coordinator", project victor by Vijaykumar Singh) was
tested by tests/unit/test_batch_processor.py of github.com/vjsingh1984/victor (last present at
commit 3eab71cd3, 2026-01-18): sixteen cases covering task creation, a simple batch,
dependency layers, cycle detection, retry, priority, load balancing, the batch utilities,
errors, streaming, summary metrics, a multi-stage pipeline and parallel file processing.

These are the same sixteen cases, in the same order and style, with batchd behind the API: the
processors are real ``batchd.BatchProcessor`` objects connected to the test daemon (the
``processor_factory`` fixture closes them), so scheduling, retries, priorities and aggregation
are the daemon's. Where batchd can promise more than the original checked (exact layers,
execution order by priority, the retry count, the error text), the assertions say so.
"""

import threading
import time
from typing import Any, Dict, List

import pytest

from batchd import (BatchProcessSummary, BatchResult, BatchTask,
                    calculate_optimal_batch_size_py, create_task_batches_py,
                    estimate_batch_duration_py)


class TestBatchProcessor:
    """Test BatchProcessor functionality."""

    def test_basic_task_creation(self):
        """Test creating basic BatchTask objects."""
        task = BatchTask(
            task_id="test_task",
            task_data=lambda x: x * 2,
            priority=1.0,
            timeout_ms=5000,
            dependencies=[],
        )

        assert task.task_id == "test_task"
        assert task.priority == 1.0
        assert task.timeout_ms == 5000
        assert task.dependencies == []
        assert task.retry_count == 0
        assert task.task_data(21) == 42

    def test_processor_creation(self, processor_factory):
        """Test creating BatchProcessor: its settings, and the worker it registers on first use
        (the original checked its Rust core object here)."""
        processor = processor_factory(
            max_concurrent=10,
            timeout_ms=30000,
            retry_policy="exponential",
            aggregation_strategy="unordered",
        )

        assert processor is not None
        assert (processor.max_concurrent, processor.timeout_ms, processor.retry_policy,
                processor.aggregation_strategy) == (10, 30000, "exponential", "unordered")
        assert processor.get_load_balancer() == "least_loaded"
        assert processor.executor_name.startswith("python-")

        processor.process_batch([BatchTask("warm_up", None)], lambda task: "ok")
        served = {e.name: e for e in processor.client.executors()}
        assert served[processor.executor_name].kind == "worker"
        assert served[processor.executor_name].capacity == 10

    def test_simple_batch_processing(self, processor_factory):
        """Test processing a simple batch of tasks."""
        processor = processor_factory(max_concurrent=5)

        def simple_executor(task_dict):
            time.sleep(0.01)  # Simulate work
            return f"Result for {task_dict['task_id']}"

        tasks = [
            BatchTask(task_id=f"task{i}", task_data=simple_executor, priority=1.0)
            for i in range(5)
        ]

        summary = processor.process_batch(tasks, simple_executor)

        assert summary is not None
        assert summary.successful_count == 5
        assert summary.failed_count == 0
        assert summary.throughput_per_second > 0
        assert len(summary.results) == 5
        assert sorted(r.result for r in summary.results) == [
            f"Result for task{i}" for i in range(5)]

    def test_dependency_resolution(self, processor_factory):
        """Test resolving task execution order with dependencies."""
        processor = processor_factory(max_concurrent=10)

        tasks = [
            BatchTask(task_id="task1", task_data=None, priority=1.0, dependencies=[]),
            BatchTask(task_id="task2", task_data=None, priority=1.0, dependencies=["task1"]),
            BatchTask(task_id="task3", task_data=None, priority=1.0, dependencies=["task1"]),
            BatchTask(task_id="task4", task_data=None, priority=1.0,
                      dependencies=["task2", "task3"]),
        ]

        layers = processor.resolve_execution_order(tasks)

        assert [sorted(layer) for layer in layers] == [["task1"], ["task2", "task3"], ["task4"]]
        assert processor.validate_dependencies(tasks) is True

    def test_circular_dependency_detection(self, processor_factory):
        """Test that circular dependencies are detected, and that nothing runs."""
        processor = processor_factory(max_concurrent=10)
        calls: List[str] = []

        tasks = [
            BatchTask(task_id="task1", task_data=None, priority=1.0, dependencies=["task2"]),
            BatchTask(task_id="task2", task_data=None, priority=1.0, dependencies=["task1"]),
        ]

        with pytest.raises(ValueError, match="Circular dependency"):
            processor.validate_dependencies(tasks)
        with pytest.raises(ValueError, match="Circular dependency"):
            processor.process_batch(tasks, lambda task: calls.append(task["task_id"]))
        assert calls == []

    def test_task_retry_logic(self, processor_factory):
        """Test task retry with failures: two failed attempts, then success."""
        processor = processor_factory(max_concurrent=5, retry_policy="fixed", retry_delay_ms=50)

        call_count = {"count": 0}

        def failing_executor(task_dict):
            call_count["count"] += 1
            if call_count["count"] <= 2:
                raise ValueError("Simulated failure")
            return "Success"

        tasks = [BatchTask(task_id="failing_task", task_data=failing_executor, priority=1.0)]

        summary = processor.process_batch(tasks, failing_executor)

        # Should succeed after retries
        assert summary.successful_count == 1
        assert summary.failed_count == 0
        assert call_count["count"] == 3
        assert summary.retried_count == 1
        assert summary.results[0].retry_count == 2
        assert summary.results[0].result == "Success"

    def test_priority_execution(self, processor_factory):
        """Test that task priorities are respected: with one slot, tasks run by priority, and
        the "priority" strategy returns them by priority too."""
        processor = processor_factory(max_concurrent=1, aggregation_strategy="priority")

        execution_order = []

        def priority_executor(task_dict):
            execution_order.append(task_dict["task_id"])
            return task_dict["task_id"]

        tasks = [
            BatchTask(task_id="low_priority", task_data=priority_executor, priority=0.1),
            BatchTask(task_id="high_priority", task_data=priority_executor, priority=1.0),
            BatchTask(task_id="medium_priority", task_data=priority_executor, priority=0.5),
        ]

        summary = processor.process_batch(tasks, priority_executor)

        assert summary.successful_count == 3
        expected = ["high_priority", "medium_priority", "low_priority"]
        assert execution_order == expected
        assert [r.task_id for r in summary.results] == expected

    def test_load_balancing(self, processor_factory):
        """Test task assignment with load balancing."""
        processor = processor_factory(max_concurrent=10)
        processor.set_load_balancer("round_robin")

        tasks = [BatchTask(task_id=f"task{i}", task_data=None, priority=1.0) for i in range(10)]

        assignments = processor.assign_tasks(tasks, workers=3)

        assert len(assignments) == 3
        assert sum(len(a) for a in assignments) == 10
        assert sorted(len(a) for a in assignments) == [3, 3, 4]
        # The very BatchTask objects given, each assigned once.
        assert sorted(id(t) for a in assignments for t in a) == sorted(id(t) for t in tasks)
        with pytest.raises(ValueError, match="Unknown load balancer"):
            processor.set_load_balancer("fastest")

    def test_batch_creation(self):
        """Test splitting tasks into batches."""
        tasks = [BatchTask(task_id=f"task{i}", task_data=None, priority=1.0) for i in range(10)]

        batches = create_task_batches_py(tasks, batch_size=3)

        assert len(batches) == 4  # 10 / 3 = 4 batches
        assert [len(b) for b in batches] == [3, 3, 3, 1]
        assert [t.task_id for t in batches[3]] == ["task9"]

    def test_optimal_batch_size_calculation(self):
        """Test optimal batch size calculation."""
        # 100 tasks, 10 workers -> 10 tasks per batch
        assert calculate_optimal_batch_size_py(100, 10) == 10
        # 50 tasks, 5 workers -> 10 tasks per batch
        assert calculate_optimal_batch_size_py(50, 5) == 10
        # Fewer tasks than workers: at least the minimum batch size
        assert calculate_optimal_batch_size_py(3, 10, min_batch_size=2) == 2

    def test_duration_estimation(self):
        """Test batch duration estimation."""
        # 100 tasks, 100ms avg duration, 10 concurrent: 10 waves * 100ms
        duration = estimate_batch_duration_py(100, 100.0, 10)
        assert duration > 0
        assert duration == 1000.0
        # A partial last wave still takes a whole wave
        assert estimate_batch_duration_py(101, 100.0, 10) == 1100.0

    def test_error_handling(self, processor_factory):
        """Test error handling in batch processing: the failing task is retried by the policy,
        then fails with the exception's type and message; the other succeeds."""
        processor = processor_factory(max_concurrent=5, retry_delay_ms=10)

        def error_executor(task_dict):
            if task_dict["task_id"] == "error_task":
                raise RuntimeError("Intentional error")
            return "Success"

        tasks = [
            BatchTask(task_id="success_task", task_data=error_executor, priority=1.0),
            BatchTask(task_id="error_task", task_data=error_executor, priority=1.0),
        ]

        summary = processor.process_batch(tasks, error_executor)

        assert summary.successful_count == 1
        assert summary.failed_count == 1
        assert len(summary.results) == 2

        # Check error result
        error_result = [r for r in summary.results if not r.success][0]
        assert error_result.task_id == "error_task"
        assert error_result.error == "RuntimeError: Intentional error"
        assert error_result.retry_count == 3  # exponential, the default 3 retries
        assert error_result.result is None

    def test_streaming_results(self, processor_factory):
        """Test streaming result callback: every result, on the calling thread."""
        processor = processor_factory(max_concurrent=5)

        results_received = []
        callback_threads = set()

        def result_callback(result):
            results_received.append(result)
            callback_threads.add(threading.get_ident())

        def streaming_executor(task_dict):
            return f"Result for {task_dict['task_id']}"

        tasks = [
            BatchTask(task_id=f"task{i}", task_data=streaming_executor, priority=1.0)
            for i in range(5)
        ]

        summary = processor.process_batch_streaming(tasks, streaming_executor, result_callback)

        assert len(results_received) == 5
        assert summary.successful_count == 5
        assert sorted(r.task_id for r in results_received) == [f"task{i}" for i in range(5)]
        assert callback_threads == {threading.get_ident()}

    def test_batch_summary_metrics(self):
        """Test batch process summary metrics on a summary built by hand."""
        summary = BatchProcessSummary(
            results=[],
            total_duration_ms=1000.0,
            successful_count=8,
            failed_count=2,
            retried_count=3,
            throughput_per_second=10.0,
        )

        assert summary.success_rate() == 80.0  # 8/10 = 80%
        # Without results: the total duration over the finished tasks
        assert summary.avg_duration_ms() == 100.0

        with_results = BatchProcessSummary(
            results=[BatchResult("a", True, duration_ms=30.0),
                     BatchResult("b", False, error="boom", duration_ms=10.0)],
            total_duration_ms=45.0,
            successful_count=1,
            failed_count=1,
        )
        assert with_results.success_rate() == 50.0
        assert with_results.avg_duration_ms() == 20.0


class TestBatchProcessorIntegration:
    """Integration tests for BatchProcessor."""

    def test_multi_stage_pipeline(self, processor_factory):
        """Test a multi-stage processing pipeline: each stage runs after the one it depends
        on and is given its result."""
        processor = processor_factory(max_concurrent=10, aggregation_strategy="ordered")

        results: Dict[str, str] = {}
        seen: Dict[str, Dict[str, Any]] = {}

        def pipeline_executor(task_dict):
            task_id = task_dict["task_id"]
            seen[task_id] = dict(task_dict["dependency_results"])
            if task_id == "compile":
                results["compile"] = "compiled"
                return "compiled"
            elif task_id == "test":
                assert results.get("compile") == "compiled"
                results["test"] = "tested"
                return "tested"
            elif task_id == "deploy":
                assert results.get("test") == "tested"
                results["deploy"] = "deployed"
                return "deployed"
            return "unknown"

        tasks = [
            BatchTask(task_id="compile", task_data=pipeline_executor, priority=1.0),
            BatchTask(task_id="test", task_data=pipeline_executor, priority=0.9,
                      dependencies=["compile"]),
            BatchTask(task_id="deploy", task_data=pipeline_executor, priority=0.8,
                      dependencies=["test"]),
        ]

        summary = processor.process_batch(tasks, pipeline_executor)

        assert summary.successful_count == 3
        assert results["compile"] == "compiled"
        assert results["test"] == "tested"
        assert results["deploy"] == "deployed"
        # "ordered": by task id
        assert [r.task_id for r in summary.results] == ["compile", "deploy", "test"]
        assert seen == {"compile": {}, "test": {"compile": "compiled"},
                        "deploy": {"test": "tested"}}

    def test_parallel_file_processing(self, processor_factory):
        """Test parallel file processing simulation: in parallel, never above max_concurrent."""
        processor = processor_factory(max_concurrent=5)

        processed_files = []
        lock = threading.Lock()
        running = {"now": 0, "most": 0}

        def file_processor(task_dict):
            file_path = task_dict["task_id"]
            with lock:
                running["now"] += 1
                running["most"] = max(running["most"], running["now"])
            # Simulate file processing
            time.sleep(0.05)
            with lock:
                running["now"] -= 1
                processed_files.append(file_path)
            return f"Processed {file_path}"

        files = [f"file{i}.py" for i in range(10)]
        tasks = [BatchTask(task_id=file, task_data=file_processor, priority=1.0)
                 for file in files]

        summary = processor.process_batch(tasks, file_processor)

        assert summary.successful_count == 10
        assert len(processed_files) == 10
        assert sorted(processed_files) == sorted(files)
        assert summary.throughput_per_second > 0
        assert 1 < running["most"] <= 5
