"""batchd.aio.AsyncBatchProcessor against the real daemon: the design's BatchProcessor awaited,
with async and plain executors, local results for dependents, retries, timeouts cancelling the
coroutine, streaming with sync and async callbacks, the dry runs and the errors.

Async tests are plain functions running their coroutine with asyncio.run (no plugin needed).
"""

import asyncio
import threading

import pytest

import batchd
from batchd import BatchTask
from conftest import run_async as run
from batchd.aio import AsyncBatchProcessor



class Box:
    """Not JSON: stays a local Python object."""

    def __init__(self, value: int) -> None:
        self.value = value


def test_async_executor_results_stay_python_objects(address):
    async def main() -> None:
        async with AsyncBatchProcessor(max_concurrent=4, target=address,
                                       aggregation_strategy="ordered") as processor:

            async def executor(task):
                await asyncio.sleep(0.01)
                if task["dependencies"]:
                    return Box(sum(d.value for d in task["dependency_results"].values()))
                return Box(task["task_data"])

            tasks = [BatchTask("a", 1), BatchTask("b", 2),
                     BatchTask("sum", None, dependencies=["a", "b"])]
            summary = await processor.process_batch(tasks, executor)
            assert summary.state == "succeeded" and summary.successful_count == 3
            assert [type(r.result) for r in summary.results] == [Box, Box, Box]
            assert [r.result.value for r in summary.results] == [1, 2, 3]
            progress = await processor.get_progress()
            assert (progress.state, progress.completed_tasks) == ("succeeded", 3)
            assert progress.batch_id == processor.last_batch_id == summary.batch_id

    run(main)


def test_plain_executors_and_callable_task_data(address):
    threads = []

    async def main() -> None:
        async with AsyncBatchProcessor(max_concurrent=2, target=address,
                                       aggregation_strategy="ordered") as processor:
            def plain(task):
                threads.append(threading.get_ident())
                return task["task_data"] * 10

            summary = await processor.process_batch([BatchTask("x", 1), BatchTask("y", 2)],
                                                    plain)
            assert [r.result for r in summary.results] == [10, 20]

            async def step_one(task):
                return "one"

            def step_two(task):
                return task["dependency_results"]["s1"] + "+two"

            summary = await processor.process_batch(
                [BatchTask("s1", step_one), BatchTask("s2", step_two, dependencies=["s1"])])
            assert [r.result for r in summary.results] == ["one", "one+two"]
            with pytest.raises(ValueError, match="task_data is not callable for tasks: z"):
                await processor.process_batch([BatchTask("z", 3)])
            return threading.get_ident()

    loop_thread = run(main)
    assert len(threads) == 2 and loop_thread not in threads


def test_retries_and_a_timeout_that_cancels_the_coroutine(address):
    attempts = []
    cancelled = []

    async def main() -> None:
        async with AsyncBatchProcessor(max_concurrent=4, target=address,
                                       retry_policy="fixed", retry_delay_ms=20,
                                       max_retries=2) as processor:

            async def executor(task):
                attempts.append((task["task_id"], task["retry_count"]))
                if task["task_id"] == "flaky" and task["retry_count"] < 2:
                    raise RuntimeError(f"attempt {task['retry_count']}")
                if task["task_id"] == "stuck":
                    try:
                        await asyncio.sleep(30)
                    except asyncio.CancelledError:
                        cancelled.append(task["retry_count"])
                        raise
                return "done"

            summary = await processor.process_batch(
                [BatchTask("flaky", None), BatchTask("stuck", None, timeout_ms=200)], executor)
            results = {r.task_id: r for r in summary.results}
            assert (results["flaky"].result, results["flaky"].retry_count) == ("done", 2)
            assert results["stuck"].state == "timed_out"
            assert results["stuck"].error == "Timeout after 200 ms"
            assert results["stuck"].retry_count == 0  # the daemon does not retry a timeout
            assert summary.state == "failed" and summary.failed_count == 1

    run(main)
    assert sorted(a for a in attempts if a[0] == "flaky") == [
        ("flaky", 0), ("flaky", 1), ("flaky", 2)]
    assert cancelled == [0]  # the timed-out attempt's coroutine got CancelledError


def test_streaming_with_an_async_and_a_sync_callback(address):
    async def main() -> None:
        async with AsyncBatchProcessor(max_concurrent=1, target=address,
                                       aggregation_strategy="priority") as processor:

            async def executor(task):
                return task["task_id"].upper()

            seen = []

            async def on_result(result):
                await asyncio.sleep(0)
                seen.append((result.task_id, result.result))

            tasks = [BatchTask("low", None, priority=1.0), BatchTask("high", None, priority=9.0),
                     BatchTask("mid", None, priority=5.0)]
            summary = await processor.process_batch_streaming(tasks, executor, on_result)
            assert seen == [("high", "HIGH"), ("mid", "MID"), ("low", "LOW")]
            assert [r.task_id for r in summary.results] == ["high", "mid", "low"]

            plain_seen = []
            await processor.process_batch_streaming(tasks, executor,
                                                    lambda r: plain_seen.append(r.task_id))
            assert plain_seen == ["high", "mid", "low"]

    run(main)


def test_a_failing_callback_cancels_the_batch(address):
    async def main() -> None:
        async with AsyncBatchProcessor(max_concurrent=1, target=address) as processor:

            async def executor(task):
                if task["task_id"] != "t0":
                    await asyncio.sleep(30)
                return 1

            async def explode(result):
                raise KeyError("stop here")

            with pytest.raises(KeyError, match="stop here"):
                await processor.process_batch_streaming(
                    [BatchTask(f"t{i}", None) for i in range(3)], executor, explode)
            progress = await processor.client.progress(processor.last_batch_id)
            assert progress.state == "cancelled"

    run(main)


def test_dry_runs_load_balancer_and_errors(address):
    async def main() -> None:
        async with AsyncBatchProcessor(target=address) as processor:
            graph = [BatchTask("a"), BatchTask("b", dependencies=["a"]),
                     BatchTask("c", dependencies=["a"])]
            assert await processor.resolve_execution_order(graph) == [["a"], ["b", "c"]]
            assert await processor.validate_dependencies(graph) is True
            cycle = [BatchTask("a", dependencies=["b"]), BatchTask("b", dependencies=["a"])]
            with pytest.raises(batchd.InvalidArgumentError,
                               match=r"Circular dependency: (a -> b -> a|b -> a -> b)"):
                await processor.validate_dependencies(cycle)

            async def never(task):
                raise AssertionError("must not run")

            with pytest.raises(ValueError, match="Circular dependency"):
                await processor.process_batch(cycle, never)
            assert processor.get_load_balancer() == "least_loaded"
            processor.set_load_balancer("RoundRobin")
            assert processor.get_load_balancer() == "round_robin"
            with pytest.raises(ValueError, match="Unknown load balancer 'fastest'"):
                processor.set_load_balancer("fastest")
            spread = await processor.assign_tasks(graph, 2)
            assert [[t.task_id for t in w] for w in spread] == [["a", "c"], ["b"]]
            assert spread[0][0] is graph[0]
            assert (await processor.process_batch([], never)).state == "succeeded"
        with pytest.raises(RuntimeError, match="AsyncBatchProcessor is closed"):
            await processor.process_batch([BatchTask("late", None)], never)

    run(main)


def test_an_unreachable_daemon_is_unavailable():
    async def main() -> None:
        processor = AsyncBatchProcessor(target="127.0.0.1:1")

        async def executor(task):
            return None

        try:
            with pytest.raises(batchd.UnavailableError):
                await processor.process_batch([BatchTask("a", None)], executor)
        finally:
            await processor.close()

    run(main)


def test_bad_arguments():
    with pytest.raises(ValueError, match="max_concurrent must be a positive integer"):
        AsyncBatchProcessor(max_concurrent=0, target="127.0.0.1:1")
    with pytest.raises(ValueError, match="Unknown retry policy 'sometimes'"):
        AsyncBatchProcessor(retry_policy="sometimes", target="127.0.0.1:1")
