"""BatchProcessor against the real daemon: Python executors run in this process, batchd
schedules them. Timing bounds are generous (a busy 2-core machine)."""

import threading
import time

import pytest

import batchd
from batchd import BatchTask
from conftest import wait_until


def sleeper(ms):
    def run(task):
        time.sleep(ms / 1000.0)
        return task["task_id"]

    return run


class TestProcessBatch:
    def test_results_are_the_executors_objects(self, processor_factory):
        processor = processor_factory(max_concurrent=4)
        made = {}

        class Report:  # no JSON rendering: must stay a local object
            def __init__(self, task_id):
                self.task_id = task_id

        def executor(task):
            made[task["task_id"]] = Report(task["task_id"])
            return made[task["task_id"]]

        tasks = [BatchTask(f"t{i}", {"n": i}) for i in range(6)]
        summary = processor.process_batch(tasks, executor)
        assert summary.successful_count == 6 and summary.failed_count == 0
        assert summary.success_rate() == 100.0
        assert sorted(r.task_id for r in summary.results) == [t.task_id for t in tasks]
        for result in summary.results:
            assert result.success and result.error is None
            assert result.result is made[result.task_id]
            assert result.state == "succeeded"
        assert summary.batch_id and summary.state == "succeeded"
        assert summary.total_duration_ms > 0 and summary.throughput_per_second > 0

    def test_executor_gets_the_design_task_dict(self, processor_factory):
        processor = processor_factory()
        data = {"payload": object()}  # the same object, not a copy
        seen = {}

        def executor(task):
            seen[task["task_id"]] = task
            return task["task_id"]

        processor.process_batch([
            BatchTask("a", data, priority=2.5, timeout_ms=5000),
            BatchTask("b", [1, 2], dependencies=["a"]),
        ], executor)
        a, b = seen["a"], seen["b"]
        assert set(a) == {"task_id", "task_data", "priority", "timeout_ms", "retry_count",
                          "dependencies", "dependency_results", "batch_id"}
        assert a["task_data"] is data
        assert (a["priority"], a["timeout_ms"], a["retry_count"], a["dependencies"]) == (
            2.5, 5000, 0, [])
        assert b["timeout_ms"] == 30000  # the processor's default
        assert (b["dependencies"], b["dependency_results"]) == (["a"], {"a": "a"})

    def test_callable_task_data_without_executor(self, processor_factory):
        processor = processor_factory()
        summary = processor.process_batch(
            [BatchTask("x", lambda task: task["task_id"] * 2),
             BatchTask("y", lambda task: len(task["dependencies"]), dependencies=["x"])])
        results = {r.task_id: r.result for r in summary.results}
        assert results == {"x": "xx", "y": 1}

    def test_no_executor_and_data_not_callable_raises(self, processor_factory):
        processor = processor_factory()
        with pytest.raises(ValueError, match="not callable for tasks: b"):
            processor.process_batch([BatchTask("a", print), BatchTask("b", 42)])
        with pytest.raises(TypeError):
            processor.process_batch([BatchTask("a", 1)], executor=42)

    def test_design_keyword_python_executor(self, processor_factory):
        processor = processor_factory()
        summary = processor.process_batch([BatchTask("a", 2)],
                                          python_executor=lambda task: task["task_data"] + 1)
        assert summary.results[0].result == 3
        streamed = []
        processor.process_batch_streaming([BatchTask("b", 5)], callback=streamed.append,
                                          python_executor=lambda task: task["task_data"])
        assert [r.result for r in streamed] == [5]
        with pytest.raises(TypeError, match="not both"):
            processor.process_batch([BatchTask("a", 2)], print, python_executor=print)

    def test_empty_batch(self, processor_factory):
        summary = processor_factory().process_batch([], sleeper(1))
        assert (summary.results, summary.successful_count) == ([], 0)

    def test_exceptions_become_failed_results(self, processor_factory):
        processor = processor_factory(retry_policy="none")

        def executor(task):
            if task["task_id"] == "bad":
                raise ValueError("no such file: x.txt")
            if task["task_id"] == "bare":
                raise KeyError
            return "ok"

        summary = processor.process_batch(
            [BatchTask("good", 1), BatchTask("bad", 2), BatchTask("bare", 3)], executor)
        results = {r.task_id: r for r in summary.results}
        assert results["good"].success and results["good"].result == "ok"
        assert not results["bad"].success
        assert results["bad"].error == "ValueError: no such file: x.txt"
        assert results["bad"].result is None and results["bad"].state == "failed"
        assert results["bare"].error == "KeyError"
        assert (summary.successful_count, summary.failed_count) == (1, 2)

    def test_failed_dependency_skips_dependents(self, processor_factory):
        processor = processor_factory(retry_policy="none")

        def executor(task):
            if task["task_id"] == "compile":
                raise RuntimeError("syntax error")
            return "ran"

        summary = processor.process_batch(
            [BatchTask("compile", 1), BatchTask("test", 2, dependencies=["compile"])], executor)
        results = {r.task_id: r for r in summary.results}
        assert results["compile"].error == "RuntimeError: syntax error"
        assert results["test"].state == "skipped"
        assert "compile" in results["test"].error


class TestParallelism:
    def test_five_100ms_tasks_at_max_concurrent_5_run_in_parallel(self, processor_factory):
        processor = processor_factory(max_concurrent=5)
        processor.process_batch([BatchTask("warm", 0)], sleeper(1))  # connect the worker first
        tasks = [BatchTask(f"t{i}", i) for i in range(5)]
        start = time.monotonic()
        summary = processor.process_batch(tasks, sleeper(100))
        elapsed_ms = (time.monotonic() - start) * 1000
        assert summary.successful_count == 5
        # Sequential would take 500 ms.
        assert elapsed_ms < 300, f"took {elapsed_ms:.0f} ms"
        assert all(r.duration_ms >= 95 for r in summary.results)

    def test_max_concurrent_bounds_running_calls(self, processor_factory):
        processor = processor_factory(max_concurrent=3)
        lock = threading.Lock()
        running = [0]
        peak = [0]

        def executor(task):
            with lock:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
            time.sleep(0.03)
            with lock:
                running[0] -= 1
            return None

        summary = processor.process_batch([BatchTask(str(i), i) for i in range(12)], executor)
        assert summary.successful_count == 12
        assert peak[0] == 3

    def test_first_batch_includes_connecting(self, processor_factory):
        processor = processor_factory(max_concurrent=5)
        start = time.monotonic()
        summary = processor.process_batch([BatchTask(f"t{i}", i) for i in range(5)],
                                          sleeper(100))
        assert summary.successful_count == 5
        assert (time.monotonic() - start) * 1000 < 450  # still well under sequential

    def test_two_threads_share_one_processor(self, processor_factory):
        processor = processor_factory(max_concurrent=4)
        summaries = {}

        def run(name):
            tasks = [BatchTask(f"{name}{i}", name) for i in range(4)]
            summaries[name] = processor.process_batch(
                tasks, lambda task: (task["task_data"], task["task_id"]))

        threads = [threading.Thread(target=run, args=(n,)) for n in "ab"]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        for name in "ab":
            assert summaries[name].successful_count == 4
            assert all(r.result == (name, r.task_id) for r in summaries[name].results)


class TestRetries:
    def test_fixed_policy_retries_on_the_daemons_timers(self, processor_factory):
        processor = processor_factory(retry_policy="fixed", retry_delay_ms=300)
        starts = []
        ends = []

        def flaky(task):
            starts.append((time.monotonic(), task["retry_count"]))
            try:
                if task["retry_count"] < 2:
                    raise ConnectionError(f"attempt {task['retry_count']} failed")
                return "third time lucky"
            finally:
                ends.append(time.monotonic())

        summary = processor.process_batch([BatchTask("flaky", None)], flaky)
        result = summary.results[0]
        assert result.success and result.result == "third time lucky"
        assert result.retry_count == 2
        assert summary.retried_count == 1
        assert [attempt for _, attempt in starts] == [0, 1, 2]
        # Each retry waited the fixed delay after the failure, on the daemon's timer: no
        # thread of this process slept (the executor returned at once each time).
        for (start, _), end in zip(starts[1:], ends[:-1]):
            assert start - end >= 0.28
        assert all(end - start < 0.25 for (start, _), end in zip(starts, ends))

    def test_exhausted_retries_report_the_last_error(self, processor_factory):
        processor = processor_factory(retry_policy="fixed", retry_delay_ms=10, max_retries=2)
        calls = []

        def always_fails(task):
            calls.append(task["retry_count"])
            raise TimeoutError(f"upstream slow (attempt {task['retry_count']})")

        result = processor.process_batch([BatchTask("x", None)], always_fails).results[0]
        assert calls == [0, 1, 2]
        assert not result.success and result.retry_count == 2
        assert result.error == "TimeoutError: upstream slow (attempt 2)"

    def test_non_retryable_error_is_not_retried(self, processor_factory):
        processor = processor_factory(retry_policy="fixed", retry_delay_ms=10)
        calls = []

        def executor(task):
            calls.append(1)
            raise batchd.NonRetryableError("bad input")

        result = processor.process_batch([BatchTask("x", None)], executor).results[0]
        assert calls == [1] and result.error == "NonRetryableError: bad input"

    def test_none_policy_does_not_retry(self, processor_factory):
        processor = processor_factory(retry_policy="none")
        calls = []

        def executor(task):
            calls.append(1)
            raise RuntimeError("once")

        assert processor.process_batch([BatchTask("x", None)], executor).results[0].retry_count == 0
        assert calls == [1]


class TestStreaming:
    def test_callback_is_called_as_results_arrive(self, processor_factory):
        processor = processor_factory(max_concurrent=3)
        delays = {"slow": 600, "fast": 50, "medium": 250}
        arrivals = []

        def callback(result):
            arrivals.append((result.task_id, time.monotonic()))

        start = time.monotonic()
        summary = processor.process_batch_streaming(
            [BatchTask(name, ms) for name, ms in delays.items()],
            lambda task: time.sleep(task["task_data"] / 1000.0) or task["task_id"],
            callback)
        end = time.monotonic()
        assert [name for name, _ in arrivals] == ["fast", "medium", "slow"]
        # "fast" was delivered long before the batch ended, not at the end.
        assert end - arrivals[0][1] > 0.3
        assert arrivals[0][1] - start < 0.45
        assert [r.task_id for r in summary.results] == ["fast", "medium", "slow"]

    def test_ordered_strategy_streams_in_task_id_order(self, processor_factory):
        processor = processor_factory(max_concurrent=3, aggregation_strategy="ordered")
        order = []
        processor.process_batch_streaming(
            [BatchTask("c", 10), BatchTask("a", 200), BatchTask("b", 80)],
            lambda task: time.sleep(task["task_data"] / 1000.0),
            callback=lambda r: order.append(r.task_id))
        assert order == ["a", "b", "c"]

    def test_priority_strategy_orders_the_summary(self, processor_factory):
        processor = processor_factory(aggregation_strategy="priority")
        summary = processor.process_batch(
            [BatchTask("low", 0, priority=0.1), BatchTask("high", 0, priority=0.9),
             BatchTask("mid", 0, priority=0.5)], lambda task: None)
        assert [r.task_id for r in summary.results] == ["high", "mid", "low"]

    def test_callback_exception_cancels_the_batch_and_propagates(self, processor_factory):
        processor = processor_factory(max_concurrent=1)

        def callback(result):
            raise RuntimeError("stop here")

        with pytest.raises(RuntimeError, match="stop here"):
            processor.process_batch_streaming(
                [BatchTask("a", 0), BatchTask("b", 2000), BatchTask("c", 2000)],
                lambda task: time.sleep(task["task_data"] / 1000.0), callback)
        assert wait_until(lambda: processor.get_progress().state == "cancelled", 10)


class TestDependencies:
    def test_chain_runs_each_task_after_its_predecessor(self, processor_factory):
        processor = processor_factory(max_concurrent=8)
        finished = []
        lock = threading.Lock()
        chain = [f"step{i}" for i in range(6)]

        def executor(task):
            for dependency in task["dependencies"]:
                with lock:
                    assert dependency in finished, f"{task['task_id']} ran before {dependency}"
                assert task["dependency_results"][dependency] == f"done:{dependency}"
            time.sleep(0.01)
            with lock:
                finished.append(task["task_id"])
            return f"done:{task['task_id']}"

        tasks = [BatchTask(chain[0], None)] + [
            BatchTask(name, None, dependencies=[chain[i]]) for i, name in enumerate(chain[1:])]
        summary = processor.process_batch(list(reversed(tasks)), executor)
        assert summary.failed_count == 0, [r.error for r in summary.results]
        assert finished == chain

    def test_dependency_results_are_the_predecessors_objects(self, processor_factory):
        processor = processor_factory()
        produced = {}

        def executor(task):
            if task["task_id"] == "load":
                produced["rows"] = [{"id": 1}, object()]
                return produced["rows"]
            return task["dependency_results"]["load"]

        summary = processor.process_batch(
            [BatchTask("load", None), BatchTask("use", None, dependencies=["load"])], executor)
        use = next(r for r in summary.results if r.task_id == "use")
        assert use.result is produced["rows"]

    def test_resolve_execution_order(self, processor_factory):
        processor = processor_factory()
        tasks = [BatchTask("deploy", None, dependencies=["test"]),
                 BatchTask("compile", None),
                 BatchTask("lint", None),
                 BatchTask("test", None, dependencies=["compile", "lint"])]
        layers = processor.resolve_execution_order(tasks)
        assert [sorted(layer) for layer in layers] == [["compile", "lint"], ["test"],
                                                       ["deploy"]]
        assert processor.validate_dependencies(tasks) is True

    def test_cycle_raises_value_error(self, processor_factory):
        processor = processor_factory()
        tasks = [BatchTask("a", None, dependencies=["b"]), BatchTask("b", None,
                                                                     dependencies=["a"])]
        for call in (processor.resolve_execution_order, processor.validate_dependencies,
                     lambda t: processor.process_batch(t, lambda task: None)):
            with pytest.raises(ValueError, match="Circular dependency") as error:
                call(tasks)
            assert "a -> b -> a" in str(error.value) or "b -> a -> b" in str(error.value)
            assert isinstance(error.value, batchd.InvalidArgumentError)
            assert error.value.field_violations

    def test_unknown_dependency_raises_value_error_naming_it(self, processor_factory):
        processor = processor_factory()
        tasks = [BatchTask("a", None), BatchTask("b", None, dependencies=["ghost"])]
        with pytest.raises(ValueError, match="Unknown dependency 'ghost' of task 'b'") as error:
            processor.process_batch(tasks, lambda task: None)
        assert "Circular" not in str(error.value)
        with pytest.raises(ValueError, match="ghost"):
            processor.validate_dependencies(tasks)

    def test_duplicate_ids_raise_value_error(self, processor_factory):
        with pytest.raises(ValueError, match="Duplicate task id 'a'"):
            processor_factory().process_batch([BatchTask("a", 1), BatchTask("a", 2)],
                                              lambda task: None)


class TestLoadBalancing:
    TASKS = [BatchTask(f"t{i}", None, priority=p)
             for i, p in enumerate([0.1, 0.9, 0.5, 0.7, 0.3, 0.2, 0.8, 0.4])]

    def test_round_robin(self, processor_factory):
        processor = processor_factory()
        processor.set_load_balancer("round_robin")
        assignments = processor.assign_tasks(self.TASKS, workers=3)
        assert [[t.task_id for t in a] for a in assignments] == [
            ["t0", "t3", "t6"], ["t1", "t4", "t7"], ["t2", "t5"]]
        assert assignments[0][0] is self.TASKS[0]

    def test_least_loaded_deals_by_priority(self, processor_factory):
        processor = processor_factory()
        processor.set_load_balancer("least_loaded")
        assignments = processor.assign_tasks(self.TASKS, workers=4)
        assert [len(a) for a in assignments] == [2, 2, 2, 2]
        assert [a[0].task_id for a in assignments] == ["t1", "t6", "t3", "t2"]

    def test_weighted_balances_priorities(self, processor_factory):
        processor = processor_factory()
        processor.set_load_balancer("weighted")
        assignments = processor.assign_tasks(self.TASKS, workers=2)
        loads = [sum(t.priority for t in a) for a in assignments]
        assert abs(loads[0] - loads[1]) <= 0.2 + 1e-9
        assert sorted(t.task_id for a in assignments for t in a) == sorted(
            t.task_id for t in self.TASKS)

    def test_random_is_reproducible_with_a_seed(self, processor_factory):
        processor = processor_factory()
        processor.set_load_balancer("random")
        first = processor.assign_tasks(self.TASKS, workers=3, seed=7)
        assert processor.assign_tasks(self.TASKS, workers=3, seed=7) == first
        assert sum(len(a) for a in first) == len(self.TASKS)

    def test_zero_workers_raises(self, processor_factory):
        with pytest.raises(ValueError, match="greater than 0"):
            processor_factory().assign_tasks(self.TASKS, workers=0)


class TestProgressAndTimeouts:
    def test_get_progress_before_during_and_after(self, processor_factory):
        processor = processor_factory(max_concurrent=2)
        assert processor.get_progress().total_tasks == 0
        release = threading.Event()
        seen = []

        def executor(task):
            if task["task_id"] == "slow":
                release.wait(30)
            return None

        def watch():
            wait_until(lambda: processor.get_progress().completed_tasks >= 2, 20)
            seen.append(processor.get_progress())
            release.set()

        watcher = threading.Thread(target=watch)
        watcher.start()
        summary = processor.process_batch(
            [BatchTask("a", 0), BatchTask("b", 0), BatchTask("slow", 0)], executor)
        watcher.join(30)
        during = seen[0]
        assert (during.total_tasks, during.completed_tasks) == (3, 2)
        assert during.state == "running" and 60 < during.progress_percentage < 70
        after = processor.get_progress()
        assert (after.total_tasks, after.completed_tasks, after.successful_tasks) == (3, 3, 3)
        assert after.progress_percentage == 100.0
        assert after.batch_id == summary.batch_id == processor.last_batch_id

    def test_timeout_fails_the_task_and_frees_its_slot(self, processor_factory):
        processor = processor_factory(max_concurrent=1, retry_policy="none")
        saw_cancel = threading.Event()

        def executor(task):
            if task["task_id"] == "stuck":
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    if batchd.cancelled():
                        saw_cancel.set()
                        break
                    time.sleep(0.01)
                return "too late"
            return "quick"

        start = time.monotonic()
        summary = processor.process_batch(
            [BatchTask("stuck", None, priority=1.0, timeout_ms=200), BatchTask("next", None)],
            executor)
        elapsed = time.monotonic() - start
        results = {r.task_id: r for r in summary.results}
        assert not results["stuck"].success and results["stuck"].state == "timed_out"
        assert results["stuck"].error == "Timeout after 200 ms"
        assert results["stuck"].result is None
        # The only slot was free again at once (no wait for the abandoned call).
        assert results["next"].success and results["next"].result == "quick"
        assert elapsed < 1.5
        assert saw_cancel.wait(5)
