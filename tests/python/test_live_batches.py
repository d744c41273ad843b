"""Acting on running batches from Python: batchd.spawn() inside a worker's executor, open
batches with add_tasks / close_batch, complete_task for executor "external", cancel_task."""

import threading
import uuid

import pytest

import batchd
from batchd import BatchTask
from conftest import wait_until


def unique(name):
    return f"{name}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def worker(address):
    made = batchd.Worker(target=address, name="planner", slots=4)
    yield made
    made.stop()


def test_a_planner_spawns_tool_calls_without_holding_a_slot(worker, client):
    plan, tool = unique("plan"), unique("tool")

    @worker.executor(plan)
    def run_plan(task):
        calls = [BatchTask(f"call-{i}", {"q": i}, dependencies=[task["task_id"]], executor=tool)
                 for i in range(5)]
        merge = BatchTask("merge", {"n": 5}, dependencies=[c.task_id for c in calls],
                          executor="echo")
        total = batchd.spawn(calls + [merge])
        return {"spawned": total - 1}

    @worker.executor(tool)
    def run_tool(task):
        return task["task_data"]["q"] * 10

    worker.start()
    # max_concurrent 1: the planner must not wait for its children (it would deadlock).
    batch_id = client.submit([BatchTask("plan", None, executor=plan)], max_concurrent=1)
    assert wait_until(lambda: client.get(batch_id).state == "succeeded", timeout=60)
    summary = client.get(batch_id)
    results = {r.task_id: r for r in summary.results}
    assert results["plan"].result == {"spawned": 6}
    assert sorted(results) == ["call-0", "call-1", "call-2", "call-3", "call-4", "merge", "plan"]
    assert [results[f"call-{i}"].result for i in range(5)] == [0, 10, 20, 30, 40]
    assert results["merge"].state == "succeeded"


def test_spawn_outside_an_executor_call_is_an_error():
    with pytest.raises(RuntimeError, match="for executor calls of a batchd.Worker"):
        batchd.spawn([BatchTask("x", 1)])


def test_open_batch_add_tasks_and_close(client):
    batch_id = client.submit([BatchTask("first", 1, executor="echo")], open=True)
    wait_until(lambda: client.progress(batch_id).completed_tasks == 1, timeout=30)
    assert client.progress(batch_id).state == "running"  # open: it waits for more
    total = client.add_tasks(batch_id, [BatchTask("second", {"$ref": "first"},
                                                  dependencies=["first"], executor="echo")],
                             request_id="add-1")
    assert total == 2
    assert client.add_tasks(batch_id, [BatchTask("second", {"$ref": "first"},
                                                 dependencies=["first"], executor="echo")],
                            request_id="add-1") == 2  # the same request adds nothing
    with pytest.raises(ValueError, match="Duplicate task id 'first'"):
        client.add_tasks(batch_id, [BatchTask("first", 2, executor="echo")])
    wait_until(lambda: client.progress(batch_id).completed_tasks == 2, timeout=30)
    progress = client.close_batch(batch_id)
    assert progress.state == "succeeded"
    assert {r.task_id: r.result for r in client.get(batch_id).results} == {
        "first": 1, "second": 1}
    with pytest.raises(batchd.FailedPreconditionError, match="already finished"):
        client.add_tasks(batch_id, [BatchTask("third", 3, executor="echo")])


def test_complete_task_and_cancel_task(client):
    batch_id = client.submit([
        BatchTask("approve", {"draft": "hello"}, executor="external"),
        BatchTask("send", {"$ref": "approve"}, dependencies=["approve"], executor="echo"),
        BatchTask("slow", 600000, executor="sleep"),
    ])
    wait_until(lambda: client.progress(batch_id).awaiting_completion_tasks == 1, timeout=30)
    waiting = client.progress(batch_id).awaiting_completion[0]
    assert waiting.task_id == "approve"
    assert waiting.input == {"draft": "hello"}
    with pytest.raises(PermissionError, match="The token does not match task 'approve'"):
        client.complete_task(batch_id, "approve", {"ok": True}, token="0" * 32)
    assert client.complete_task(batch_id, "approve", {"ok": True}) == "succeeded"
    cancelled = client.cancel_task(batch_id, "slow", "not needed")
    assert cancelled.state == "cancelled"
    assert cancelled.error == "Cancelled: not needed"
    wait_until(lambda: client.get(batch_id).state == "failed", timeout=30)
    results = {r.task_id: r for r in client.get(batch_id).results}
    assert results["send"].result == {"ok": True}
    with pytest.raises(LookupError, match="has no task 'nope'"):
        client.cancel_task(batch_id, "nope")


def test_a_workers_partial_output_reaches_a_reader_before_the_result(worker, client):
    name = unique("tokens")
    release = threading.Event()

    @worker.executor(name)
    def run(task):
        batchd.output("Hel")
        batchd.output("lo ")
        assert release.wait(30)  # the reader has seen the first chunks by now
        batchd.output("wörld")
        return "Hello wörld"

    worker.start()
    batch_id = client.submit([BatchTask("llm", None, executor=name)])
    stream = client.stream_task_output(batch_id, "llm")
    seen = []
    for chunk in stream:
        seen.append(chunk)
        if "".join(seen) == "Hello ":
            release.set()  # the task is still running: it waits for this
    assert "".join(seen) == "Hello wörld"
    assert stream.result.result == "Hello wörld"
    assert stream.offset == len("Hello wörld".encode())
    # A late reader from an offset gets the rest, then the result.
    late = client.stream_task_output(batch_id, "llm", after_offset=6)
    assert "".join(late) == "wörld"
    assert late.result.state == "succeeded"


def test_output_outside_an_executor_call_is_an_error():
    with pytest.raises(RuntimeError, match="for executor calls of a batchd.Worker"):
        batchd.output("x")
