"""batchd.Client against the real daemon, with its builtin executors."""

import asyncio

import grpc
import pytest

import batchd
from batchd import BatchTask


def sleeps(*ms_values, prefix="s"):
    return [BatchTask(f"{prefix}{i}", {"ms": ms}, executor="sleep")
            for i, ms in enumerate(ms_values)]


def test_submit_and_stream_results(client):
    tasks = [BatchTask("a", {"hello": "world"}), BatchTask("b", [1, 2.5, None],
                                                           dependencies=["a"])]
    batch_id = client.submit(tasks, executor="echo", aggregation_strategy="ordered")
    stream = client.stream_results(batch_id)
    results = list(stream)
    assert [(r.task_id, r.result, r.success) for r in results] == [
        ("a", {"hello": "world"}, True), ("b", [1, 2.5, None], True)]
    assert stream.summary is not None and stream.summary.batch_id == batch_id
    assert stream.summary.state == "succeeded" and stream.summary.successful_count == 2
    assert stream.summary.results == results
    assert stream.sequence == 2
    resumed = list(client.stream_results(batch_id, after_sequence=1))
    assert [r.task_id for r in resumed] == ["b"]


def test_process_waits_for_the_summary(client):
    summary = client.process(sleeps(50, 50, 50), max_concurrent=3, aggregation_strategy="ordered")
    assert [r.task_id for r in summary.results] == ["s0", "s1", "s2"]
    assert all(r.result == {"slept_ms": 50} for r in summary.results)
    assert summary.successful_count == 3


def test_progress_watch_get_list(client):
    batch_id = client.submit(sleeps(100, 200), max_concurrent=2)
    updates = list(client.watch(batch_id, min_interval_ms=20))
    assert updates, "watch yields at least the final progress"
    final = updates[-1]
    assert (final.total_tasks, final.completed_tasks, final.state) == (2, 2, "succeeded")
    assert final.progress_percentage == 100.0
    assert client.progress(batch_id).completed_tasks == 2
    summary = client.get(batch_id)
    assert sorted(r.task_id for r in summary.results) == ["s0", "s1"]
    assert batch_id in [p.batch_id for p in client.list()]
    assert len(client.list(limit=1)) == 1


def test_list_filters_and_list_tasks(client):
    ml = client.submit([BatchTask("a", 1)], executor="echo", labels={"team": "ml"})
    web = client.submit(sleeps(20000), labels={"team": "web"})
    client.get(ml)  # the echo batch is quick; wait for it through its summary
    for _ in client.stream_results(ml):
        pass
    assert [p.batch_id for p in client.list(selector="team=ml")] == [ml]
    assert [p.batch_id for p in client.list(states=["running"], selector="team")] == [web]
    assert web not in [p.batch_id for p in client.list(states=["SUCCEEDED", "batch_state_failed"])]
    with pytest.raises(ValueError, match="Unknown state 'finished'"):
        client.list(states=["finished"])
    with pytest.raises(TypeError, match="list of state names"):
        client.list(states="running")
    with pytest.raises(batchd.InvalidArgumentError, match="Malformed label selector requirement .=x."):
        client.list(selector="=x")
    batch_id = client.submit([BatchTask("root", {"ms": 20000}, executor="sleep"),
                              BatchTask("leaf", 1, dependencies=["root"])])
    tasks = client.list_tasks(batch_id)
    assert [(t.task_id, t.layer, t.dependencies) for t in tasks] == [
        ("root", 0, []), ("leaf", 1, ["root"])]
    leaf = tasks[1]
    assert leaf.state == "pending" and leaf.waiting_reason == "waiting for 1 dependency: root"
    assert [t.task_id for t in client.list_tasks(batch_id, states=["pending"])] == ["leaf"]
    client.cancel(web)
    client.cancel(batch_id)


def test_cancel(client):
    batch_id = client.submit(sleeps(20000, 20000), max_concurrent=2)
    progress = client.cancel(batch_id, reason="changed my mind")
    summary = None
    for _ in client.stream_results(batch_id):
        pass
    summary = client.get(batch_id)
    assert summary.state == "cancelled"
    assert all(r.state == "cancelled" for r in summary.results)
    assert progress.batch_id == batch_id


def test_failures_and_retries_of_builtin_executors(client):
    tasks = [BatchTask("flaky", {"error": "boom", "succeed_on_attempt": 1}, executor="fail"),
             BatchTask("broken", {"error": "always"}, executor="fail")]
    summary = client.process(tasks, retry_policy="fixed", retry_delay_ms=20, max_retries=1,
                             aggregation_strategy="ordered")
    broken, flaky = summary.results
    assert flaky.success and flaky.retry_count == 1
    assert not broken.success and broken.error == "always" and broken.state == "failed"


def test_resolve_and_assign(client):
    tasks = [BatchTask("a", None), BatchTask("b", None, dependencies=["a"]),
             BatchTask("c", None, dependencies=["a"]), BatchTask("d", None,
                                                                dependencies=["b", "c"])]
    plan = client.resolve(tasks)
    assert [sorted(layer) for layer in plan.layers] == [["a"], ["b", "c"], ["d"]]
    assert plan.critical_path[0] == "a" and plan.critical_path[-1] == "d"
    assert client.assign_tasks(tasks, 2, "round_robin") == [["a", "c"], ["b", "d"]]


def test_executors(client):
    executors = {e.name: e for e in client.executors()}
    assert executors["echo"].kind == "builtin"
    assert "sleep" in executors


class TestErrors:
    def test_unknown_batch_is_a_lookup_error(self, client):
        with pytest.raises(LookupError):
            client.progress("no-such-batch")
        with pytest.raises(batchd.NotFoundError):
            client.get("no-such-batch")

    def test_unknown_executor_is_a_value_error(self, client):
        with pytest.raises(ValueError, match="Unknown executor 'nope'") as error:
            client.submit([BatchTask("a", 1, executor="nope")])
        assert error.value.field_violations
        field, description = error.value.field_violations[0]
        assert "nope" in description

    def test_cycle_is_a_value_error(self, client):
        with pytest.raises(ValueError, match=r"Circular dependency: (a -> b -> a|b -> a -> b)"):
            client.submit([BatchTask("a", 1, dependencies=["b"]),
                           BatchTask("b", 1, dependencies=["a"])])

    def test_non_json_input_is_a_type_error(self, client):
        with pytest.raises(TypeError, match="task 'a': task_data must be JSON"):
            client.submit([BatchTask("a", object())])

    def test_unreachable_daemon_is_a_connection_error(self):
        with batchd.Client("127.0.0.1:1", timeout=10) as unreachable:
            with pytest.raises(ConnectionError):
                unreachable.executors()

    def test_processor_on_unreachable_daemon_fails_fast(self):
        with batchd.BatchProcessor(target="127.0.0.1:1") as processor:
            with pytest.raises(ConnectionError):
                processor.process_batch([BatchTask("a", 1)], lambda task: None)

    def test_finished_task_is_a_failed_precondition_not_a_value_error(self, client):
        batch_id = client.submit([BatchTask("a", 1)], executor="echo")
        list(client.stream_results(batch_id))
        with pytest.raises(batchd.FailedPreconditionError, match="already finished") as raised:
            client.cancel_task(batch_id, "a")
        assert not isinstance(raised.value, ValueError)
        assert raised.value.code == grpc.StatusCode.FAILED_PRECONDITION

    def test_cancelled_error_no_longer_shadows_asyncio(self):
        assert not hasattr(batchd, "CancelledError")
        assert not issubclass(batchd.CallCancelledError, asyncio.CancelledError)


class TestAsyncExecutorsOnTheThreadedApi:
    async def _fetch(self, task):  # an async executor
        return task["task_id"]

    def test_the_processor_refuses_an_async_executor(self, processor_factory):
        processor = processor_factory(max_concurrent=2)
        with pytest.raises(TypeError, match="executor is an async function: .* use "
                                            "batchd.aio.AsyncBatchProcessor"):
            processor.process_batch([BatchTask("a", 1)], self._fetch)

        async def step(task):
            return 1

        with pytest.raises(TypeError, match="task 'b''s task_data is an async function"):
            processor.process_batch([BatchTask("b", step)])

    def test_the_worker_refuses_an_async_executor(self, address):
        worker = batchd.Worker(address)
        with pytest.raises(TypeError, match="executor 'fetch' is an async function: .* use "
                                            "batchd.aio.AsyncWorker"):
            worker.add_executor("fetch", self._fetch)

    def test_an_executor_returning_a_coroutine_fails_its_task_at_once(self, processor_factory):
        processor = processor_factory(max_concurrent=2, retry_policy="exponential")
        summary = processor.process_batch([BatchTask("a", 1)],
                                          lambda task: self._fetch(task))
        result = summary.results[0]
        assert not result.success and result.retry_count == 0
        assert result.error == ("NonRetryableError: the executor returned coroutine, an "
                                "awaitable: the threaded API does not await it (serve async "
                                "executors with batchd.aio)")
