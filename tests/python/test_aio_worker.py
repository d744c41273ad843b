"""batchd.aio.AsyncWorker against the real daemon: async and plain executors, retries,
dependency results, cancellation reaching the coroutine (timeout, CancelBatch, CancelTask) with
the slot freed only once it ended, partial output, spawn, and the mistakes it refuses.

Async tests are plain functions running their coroutine with asyncio.run (no plugin needed).
"""

import asyncio
import threading
import time
import uuid
from typing import Any, Callable

import pytest

import batchd
import batchd.aio
from batchd import BatchTask
from batchd.aio import AsyncClient, AsyncWorker
from conftest import run_async as run

def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


async def wait_for(predicate: Callable[[], Any], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


def test_serves_async_executors_with_dependency_results(address):
    name = unique("embed")
    seen = {}

    async def main() -> None:
        worker = AsyncWorker(address, name="async-embedder", slots=8)

        @worker.executor(name)
        async def embed(task):
            await asyncio.sleep(0.01)
            seen[task["task_id"]] = task
            text = task["task_data"]["text"]
            return {"vector": [len(text), text.count("a")]}

        async with worker, AsyncClient(address) as client:
            assert worker.worker_id.startswith("async-embedder#")
            summary = await client.process(
                [BatchTask("e1", {"text": "banana"}),
                 BatchTask("e2", {"text": "kiwi"}, priority=2.0),
                 BatchTask("sum", {"text": ""}, dependencies=["e1", "e2"])],
                executor=name, aggregation_strategy="ordered")
            listed = {e.name: e for e in await client.executors()}[name]
        assert summary.failed_count == 0, [r.error for r in summary.results]
        assert [r.result for r in summary.results] == [
            {"vector": [6, 3]}, {"vector": [4, 0]}, {"vector": [0, 0]}]
        assert (listed.kind, listed.workers, listed.capacity) == ("worker", 1, 8)

    run(main)
    assert seen["e2"]["priority"] == 2.0 and seen["e2"]["retry_count"] == 0
    dependencies = seen["sum"]["dependency_results"]
    assert type(dependencies).__name__ == "LazyDependencies"
    assert sorted(dependencies) == ["e1", "e2"] and len(dependencies) == 2
    assert dependencies["e1"] == {"vector": [6, 3]}
    assert dict(dependencies) == {"e1": {"vector": [6, 3]}, "e2": {"vector": [4, 0]}}
    assert seen["sum"]["dependencies"] == ["e1", "e2"]


def test_a_plain_executor_runs_on_a_thread_not_the_loop(address):
    name = unique("plain")
    threads = []

    async def main() -> int:
        loop_thread = threading.get_ident()
        worker = AsyncWorker(address, slots=2)

        @worker.executor(name)
        def plain(task):
            threads.append(threading.get_ident())
            time.sleep(0.05)  # blocking: would stall the loop if it ran there
            return task["task_data"] * 2

        async with worker, AsyncClient(address) as client:
            summary = await client.process([BatchTask(f"t{i}", i) for i in range(4)],
                                           executor=name, aggregation_strategy="ordered")
        assert [r.result for r in summary.results] == [0, 2, 4, 6]
        return loop_thread

    loop_thread = run(main)
    assert len(threads) == 4 and loop_thread not in threads


def test_exceptions_fail_and_retry(address):
    name = unique("flaky")
    attempts = []

    async def main() -> None:
        worker = AsyncWorker(address)

        @worker.executor(name)
        async def flaky(task):
            attempts.append((task["task_id"], task["retry_count"]))
            if task["retry_count"] == 0:
                raise ConnectionResetError("peer reset")
            if task["task_data"] == "bad":
                raise batchd.NonRetryableError("cannot parse")
            return "ok"

        async with worker, AsyncClient(address) as client:
            summary = await client.process([BatchTask("a", "good"), BatchTask("b", "bad")],
                                           executor=name, retry_policy="fixed",
                                           retry_delay_ms=20, aggregation_strategy="ordered")
        a, b = summary.results
        assert (a.success, a.result, a.retry_count) == (True, "ok", 1)
        assert (b.success, b.error, b.retry_count) == (
            False, "NonRetryableError: cannot parse", 1)

    run(main)
    assert sorted(attempts) == [("a", 0), ("a", 1), ("b", 0), ("b", 1)]


def test_an_unrepresentable_return_value_fails_without_retry(address):
    name = unique("objects")

    async def main() -> None:
        worker = AsyncWorker(address)

        async def returns_an_object(task):
            return object()

        worker.add_executor(name, returns_an_object)
        async with worker, AsyncClient(address) as client:
            result = (await client.process([BatchTask("a", None)], executor=name,
                                           retry_policy="fixed", retry_delay_ms=10)).results[0]
        assert not result.success and result.retry_count == 0
        assert result.error.startswith("TypeError: value: object is not JSON-representable")

    run(main)


def test_a_timeout_cancels_the_coroutine_within_100ms(address):
    name = unique("stuck")
    seen = {}

    async def main() -> None:
        worker = AsyncWorker(address)

        @worker.executor(name)
        async def stuck(task):
            seen["timeout_ms"] = task["timeout_ms"]
            seen["start"] = time.monotonic()
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                seen["cancelled"] = time.monotonic()
                raise
            finally:
                seen["finally"] = True

        async with worker, AsyncClient(address) as client:
            result = (await client.process([BatchTask("slow", None, timeout_ms=300)],
                                           executor=name, retry_policy="none")).results[0]
        assert (result.state, result.error) == ("timed_out", "Timeout after 300 ms")

    run(main)
    assert seen["timeout_ms"] == 300 and seen["finally"] is True
    # From the executor's start, which is a little after the daemon's (so a loaded machine
    # may see slightly under 300 ms) to the CancelledError: the daemon's timeout plus < 100 ms.
    gap = seen["cancelled"] - seen["start"]
    assert 0.25 <= gap < 0.4, f"cancelled {gap * 1000:.0f} ms after the executor started"


def test_cancel_batch_and_cancel_task_cancel_running_coroutines(address):
    name = unique("long")
    ended = {}

    async def main() -> None:
        started = {}
        worker = AsyncWorker(address, slots=4)

        @worker.executor(name)
        async def long_call(task):
            started[task["task_id"]] = True
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                ended[task["task_id"]] = "cancelled"
                raise
            return "finished"

        async with worker, AsyncClient(address) as client:
            batch_id = await client.submit([BatchTask("one", None), BatchTask("two", None)],
                                           executor=name, retry_policy="none")
            await wait_for(lambda: len(started) == 2)
            cancelled = await client.cancel_task(batch_id, "one", "not needed")
            assert (cancelled.state, cancelled.error) == ("cancelled", "Cancelled: not needed")
            await wait_for(lambda: "one" in ended)
            assert "two" not in ended
            progress = await client.cancel(batch_id, "user stop")
            assert progress.state == "cancelled"
            await wait_for(lambda: "two" in ended)
            await wait_for(lambda: worker.running == 0)
            results = {r.task_id: r for r in (await client.get(batch_id)).results}
        assert results["two"].state == "cancelled"
        assert results["two"].error.startswith("Cancelled")

    run(main)
    assert ended == {"one": "cancelled", "two": "cancelled"}


def test_the_slot_is_freed_only_after_the_coroutine_ended(address):
    name = unique("cleanup")
    events = []

    async def main() -> None:
        worker = AsyncWorker(address, slots=1)

        @worker.executor(name)
        async def cleanup(task):
            events.append((task["task_id"], "start", time.monotonic()))
            if task["task_id"] == "first":
                try:
                    await asyncio.sleep(30)
                finally:
                    await asyncio.sleep(0.2)  # cleanup that takes time, after the cancel
                    events.append(("first", "finally done", time.monotonic()))
            return task["task_id"]

        async with worker, AsyncClient(address) as client:
            summary = await client.process(
                [BatchTask("first", None, timeout_ms=200, priority=1.0),
                 BatchTask("second", None)],
                executor=name, retry_policy="none", aggregation_strategy="ordered")
        first, second = summary.results
        assert first.state == "timed_out" and second.result == "second"

    run(main)
    assert [e[:2] for e in events] == [("first", "start"), ("first", "finally done"),
                                       ("second", "start")]
    assert events[2][2] >= events[1][2]


def test_partial_output_is_streamed_with_async_for(address):
    name = unique("tokens")

    async def main() -> None:
        release = asyncio.Event()
        worker = AsyncWorker(address)

        @worker.executor(name)
        async def tokens(task):
            batchd.output("Hel")
            batchd.output("lo ")
            await asyncio.wait_for(release.wait(), 30)  # the reader saw the first chunks
            batchd.output("wörld")
            return "Hello wörld"

        async with worker, AsyncClient(address) as client:
            batch_id = await client.submit([BatchTask("llm", None, executor=name)])
            stream = client.stream_task_output(batch_id, "llm")
            seen = []
            async for chunk in stream:
                seen.append(chunk)
                if "".join(seen) == "Hello ":
                    release.set()
        assert "".join(seen) == "Hello wörld"
        assert stream.result is not None and stream.result.result == "Hello wörld"
        assert stream.offset == len("Hello wörld".encode())

    run(main)


def test_spawn_from_an_async_executor(address):
    plan, tool = unique("plan"), unique("tool")

    async def main() -> None:
        worker = AsyncWorker(address, slots=4)

        @worker.executor(plan)
        async def run_plan(task):
            assert batchd.aio.cancelled() is False
            with pytest.raises(RuntimeError, match=r"await batchd.aio.spawn\(\.\.\.\)"):
                batchd.spawn([BatchTask("never", 1)])
            calls = [BatchTask(f"call-{i}", {"q": i}, dependencies=[task["task_id"]],
                               executor=tool) for i in range(3)]
            merge = BatchTask("merge", None, dependencies=[c.task_id for c in calls],
                              executor=tool)
            total = await batchd.aio.spawn(calls + [merge])
            return {"spawned": total - 1}

        @worker.executor(tool)
        async def run_tool(task):
            if task["task_id"] == "merge":
                return sum(task["dependency_results"].values())
            return task["task_data"]["q"] * 10

        async with worker, AsyncClient(address) as client:
            # max_concurrent 1: the planner must not wait for its children.
            batch_id = await client.submit([BatchTask("plan", None, executor=plan)],
                                           max_concurrent=1)
            async for progress in client.watch(batch_id):
                final = progress
            assert final.state == "succeeded" and final.total_tasks == 5
            results = {r.task_id: r.result for r in (await client.get(batch_id)).results}
        assert results == {"plan": {"spawned": 4}, "call-0": 0, "call-1": 10, "call-2": 20,
                           "merge": 30}

    run(main)


def test_spawn_outside_an_async_executor_call_is_an_error():
    with pytest.raises(RuntimeError, match="for async executor calls of a batchd.aio.AsyncWorker"):
        run(lambda: batchd.aio.spawn([BatchTask("x", 1)]))


def test_an_unreachable_daemon_raises_unavailable_from_start():
    async def main() -> None:
        worker = AsyncWorker("127.0.0.1:1", name="nowhere")
        worker.add_executor("x", lambda task: None)
        with pytest.raises(batchd.UnavailableError) as raised:
            await worker.start(timeout=10)
        assert isinstance(raised.value, ConnectionError)
        assert worker.worker_id == ""

    run(main)


def test_a_builtin_executor_name_is_refused(address):
    async def main() -> None:
        worker = AsyncWorker(address)
        worker.add_executor("echo", lambda task: None)
        with pytest.raises(batchd.InvalidArgumentError, match="provided by the daemon"):
            await worker.start()

    run(main)


def test_the_worker_belongs_to_its_event_loop(address):
    name = unique("loop")
    worker = AsyncWorker(address)

    @worker.executor(name)
    async def noop(task):
        return None

    async def start() -> None:
        await worker.start()

    asyncio.run(start())  # this loop ends: the worker cannot serve from another one
    with pytest.raises(RuntimeError, match="belongs to the event loop it was created on "
                                           r"\(which is closed\)"):
        asyncio.run(worker.stop())


def test_registration_mistakes():
    worker = AsyncWorker("127.0.0.1:1")
    with pytest.raises(ValueError, match="slots must be a positive int"):
        AsyncWorker("127.0.0.1:1", slots=0)
    with pytest.raises(TypeError, match="executor 'x' must be callable"):
        worker.add_executor("x", 42)  # type: ignore[arg-type]
    worker.add_executor("x", lambda task: None)
    with pytest.raises(ValueError, match="executor 'x' is already registered"):
        worker.add_executor("x", lambda task: None)
    with pytest.raises(ValueError, match="a worker needs at least one executor"):
        run(AsyncWorker("127.0.0.1:1").start)
