"""batchd.aio.AsyncClient against the real daemon: every call as a coroutine, streams with
``async for``, the daemon's errors as the same exception classes as batchd.Client's, live
batches, shared limits, the cache, a token over a unix socket, and the event-loop mistakes.

Async tests are plain functions running their coroutine with asyncio.run (no plugin needed).
"""

import asyncio

import pytest

import batchd
from batchd import BatchTask, Rate
from batchd.aio import AsyncClient
from conftest import DAEMON_FLAGS, Daemon, batchd_binary, run_async as run



def test_submit_stream_results_watch_and_get(address):
    async def main() -> None:
        async with AsyncClient(address, timeout=30.0) as client:
            batch_id = await client.submit(
                [BatchTask("a", {"n": 1}), BatchTask("b", [2], dependencies=["a"]),
                 BatchTask("c", "three", dependencies=["b"])],
                executor="echo", aggregation_strategy="ordered", labels={"team": "aio"})
            stream = client.stream_results(batch_id)
            streamed = [(r.task_id, r.result) async for r in stream]
            assert streamed == [("a", {"n": 1}), ("b", [2]), ("c", "three")]
            assert stream.summary is not None and stream.summary.successful_count == 3
            assert stream.summary.batch_id == batch_id and stream.sequence > 0
            watched = [p async for p in client.watch(batch_id)]
            assert watched[-1].state == "succeeded" and watched[-1].completed_tasks == 3
            summary = await client.get(batch_id)
            assert [r.task_id for r in summary.results] == ["a", "b", "c"]
            progress = await client.progress(batch_id)
            assert (progress.total_tasks, progress.progress_percentage) == (3, 100.0)
            assert batch_id in [p.batch_id for p in await client.list(limit=5)]
            assert [p.batch_id for p in await client.list(selector="team=aio")] == [batch_id]
            assert await client.list(states=["running"], selector="team=aio") == []
            tasks = await client.list_tasks(batch_id)
            assert [(t.task_id, t.layer, t.state) for t in tasks] == [
                ("a", 0, "succeeded"), ("b", 1, "succeeded"), ("c", 2, "succeeded")]

    run(main)


def test_process_and_the_dry_runs(address):
    async def main() -> None:
        async with AsyncClient(address) as client:
            summary = await client.process([BatchTask("x", 1), BatchTask("y", 2)],
                                           executor="echo", aggregation_strategy="ordered")
            assert [r.result for r in summary.results] == [1, 2]
            assert summary.state == "succeeded"
            graph = [BatchTask("a"), BatchTask("b", dependencies=["a"]),
                     BatchTask("c", dependencies=["a"]), BatchTask("d", dependencies=["b", "c"])]
            assert await client.resolve_execution_order(graph) == [["a"], ["b", "c"], ["d"]]
            plan = await client.resolve(graph)
            assert plan.critical_path[0] == "a" and plan.critical_path[-1] == "d"
            spread = await client.assign_tasks(graph, 2, "round_robin")
            assert sorted(sum(spread, [])) == ["a", "b", "c", "d"] and len(spread) == 2
            names = {e.name: e.kind for e in await client.executors()}
            assert names["echo"] == "builtin"

    run(main)


def test_daemon_errors_map_to_the_same_exceptions(address):
    async def main() -> None:
        async with AsyncClient(address) as client:
            with pytest.raises(batchd.NotFoundError) as unknown:
                await client.get("no-such-batch")
            assert isinstance(unknown.value, LookupError)
            with pytest.raises(batchd.InvalidArgumentError,
                               match=r"Circular dependency: (a -> b -> a|b -> a -> b)"):
                await client.submit([BatchTask("a", 1, dependencies=["b"]),
                                     BatchTask("b", 1, dependencies=["a"])], executor="echo")
            with pytest.raises(ValueError, match="Unknown dependency 'x' of task 'b'"):
                await client.resolve([BatchTask("b", dependencies=["x"])])
            with pytest.raises(TypeError, match="task 'bad': task_data must be "
                                                "JSON-representable"):
                await client.submit([BatchTask("bad", object())], executor="echo")
            with pytest.raises(ValueError, match="Number of workers must be greater than 0"):
                await client.assign_tasks([BatchTask("a")], 0)

    run(main)


def test_an_unreachable_daemon_is_unavailable():
    async def main() -> None:
        async with AsyncClient("127.0.0.1:1", timeout=10) as client:
            with pytest.raises(batchd.UnavailableError) as raised:
                await client.list()
        assert isinstance(raised.value, ConnectionError)
        assert str(raised.value).startswith("batchd unavailable: ")

    run(main)


def test_open_batches_request_ids_complete_and_cancel_task(address):
    async def main() -> None:
        async with AsyncClient(address) as client:
            batch_id = await client.submit([BatchTask("first", 1, executor="echo")],
                                           open=True, request_id="aio-open-1")
            assert await client.submit([BatchTask("first", 1, executor="echo")], open=True,
                                       request_id="aio-open-1") == batch_id
            added = [BatchTask("second", {"$ref": "first"}, dependencies=["first"],
                               executor="echo")]
            assert await client.add_tasks(batch_id, added, request_id="add-1") == 2
            assert await client.add_tasks(batch_id, added, request_id="add-1") == 2
            with pytest.raises(ValueError, match="Duplicate task id 'first'"):
                await client.add_tasks(batch_id, [BatchTask("first", 2, executor="echo")])
            await client.add_tasks(batch_id, [
                BatchTask("approve", {"draft": "hi"}, executor="external"),
                BatchTask("slow", 600000, executor="sleep")])
            while (await client.progress(batch_id)).awaiting_completion_tasks != 1:
                await asyncio.sleep(0.02)
            with pytest.raises(PermissionError, match="The token does not match task 'approve'"):
                await client.complete_task(batch_id, "approve", {"ok": True}, token="0" * 32)
            assert await client.complete_task(batch_id, "approve", {"ok": True}) == "succeeded"
            cancelled = await client.cancel_task(batch_id, "slow", "not needed")
            assert (cancelled.state, cancelled.error) == ("cancelled", "Cancelled: not needed")
            with pytest.raises(batchd.FailedPreconditionError):
                await client.cancel_task(batch_id, "slow")
            while (await client.progress(batch_id)).completed_tasks != 4:
                await asyncio.sleep(0.02)
            progress = await client.close_batch(batch_id)
            assert progress.state == "failed"  # the cancelled task
            results = {r.task_id: r for r in (await client.get(batch_id)).results}
            assert results["second"].result == 1 and results["approve"].result == {"ok": True}
            with pytest.raises(batchd.FailedPreconditionError, match="already finished"):
                await client.add_tasks(batch_id, [BatchTask("third", 3, executor="echo")])

    run(main)


def test_cancel_a_batch(address):
    async def main() -> None:
        async with AsyncClient(address) as client:
            batch_id = await client.submit([BatchTask(f"s{i}", 600000) for i in range(3)],
                                           executor="sleep")
            progress = await client.cancel(batch_id, "enough")
            assert progress.state == "cancelled"
            summary = await client.get(batch_id)
            assert [r.state for r in summary.results] == ["cancelled"] * 3

    run(main)


def test_shared_limits_and_the_cache(address):
    async def main() -> None:
        async with AsyncClient(address) as client:
            status = await client.set_limit("aio-test", max_in_flight=2,
                                            rates=[Rate(100, "minute")])
            assert status.limit.key == "aio-test" and status.limit.max_in_flight == 2
            assert "aio-test" in [s.limit.key for s in await client.limits()]
            summary = await client.process(
                [BatchTask(f"t{i}", i, limits=[("aio-test", 1)]) for i in range(4)],
                executor="echo")
            assert summary.successful_count == 4
            with pytest.raises(ValueError, match="nope"):
                await client.submit([BatchTask("u", 1, limits=["nope"])], executor="echo")
            await client.delete_limit("aio-test")
            with pytest.raises(batchd.NotFoundError):
                await client.delete_limit("aio-test")

            cached = [BatchTask("c", {"v": 1}, cache_ttl_ms=60000, cache_namespace="aio")]
            await client.process(cached, executor="echo")
            again = await client.process(cached, executor="echo")
            assert again.results[0].cached is True
            stats = await client.cache_stats()
            assert stats["hits"] >= 1 and stats["entries"] >= 1
            assert await client.invalidate_cache(namespace="aio") == 1

    run(main)


def test_the_client_belongs_to_its_event_loop(address):
    client = AsyncClient(address)  # made outside a loop: bound by its first call
    assert isinstance(run(lambda: client.list(limit=1)), list)
    with pytest.raises(RuntimeError, match=r"AsyncClient belongs to the event loop it was "
                                           r"created on \(which is closed\)"):
        run(lambda: client.list(limit=1))

    async def closed_then_used() -> None:
        other = AsyncClient(address)
        await other.close()
        with pytest.raises(RuntimeError, match="AsyncClient is closed"):
            await other.list()

    run(closed_then_used)


def test_a_token_over_a_unix_socket(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("aio-secret\n")
    socket_path = tmp_path / "batchd.sock"
    daemon = Daemon(batchd_binary(), [*DAEMON_FLAGS, f"--listen=unix:{socket_path}",
                                      f"--auth-token-file={token_file}"],
                    str(tmp_path / "batchd.log"))

    async def main() -> None:
        async with AsyncClient(daemon.address, token_file=str(token_file)) as client:
            summary = await client.process([BatchTask("a", {"n": 1})], executor="echo")
            assert summary.results[0].result == {"n": 1}
            stream = client.stream_results(await client.submit([BatchTask("b", 2)],
                                                               executor="echo"))
            assert [r.result async for r in stream] == [2]
        async with AsyncClient(daemon.address, token="wrong") as client:
            with pytest.raises(batchd.UnauthenticatedError):
                await client.list()

    try:
        assert daemon.address == f"unix:{socket_path}"
        run(main)
    finally:
        daemon.stop()
