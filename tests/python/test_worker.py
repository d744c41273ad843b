"""batchd.Worker: Python functions served as executors to batches submitted by any client
(here batchd.Client, standing in for a C++ or Go client)."""

import threading
import time
import uuid

import pytest

import batchd
from batchd import BatchTask
from conftest import wait_until


def unique(name):
    return f"{name}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def workers(address):
    made = []

    def make(**kwargs):
        kwargs.setdefault("target", address)
        worker = batchd.Worker(**kwargs)
        made.append(worker)
        return worker

    yield make
    for worker in made:
        worker.stop()


def test_serves_an_executor_by_name(workers, client):
    embed = unique("embed")
    worker = workers(name="embedder", slots=4)
    seen = {}

    @worker.executor(embed)
    def run(task):
        seen[task["task_id"]] = task
        text = task["task_data"]["text"]
        return {"vector": [len(text), text.count("a")]}

    worker.start()
    assert worker.worker_id.startswith("embedder#")
    summary = client.process(
        [BatchTask("e1", {"text": "banana"}), BatchTask("e2", {"text": "kiwi"}, priority=2.0),
         BatchTask("sum", {"text": ""}, dependencies=["e1", "e2"])],
        executor=embed, aggregation_strategy="ordered")
    assert summary.failed_count == 0, [r.error for r in summary.results]
    assert [r.result for r in summary.results] == [
        {"vector": [6, 3]}, {"vector": [4, 0]}, {"vector": [0, 0]}]
    assert seen["e2"]["priority"] == 2.0 and seen["e2"]["retry_count"] == 0
    assert seen["sum"]["dependency_results"] == {"e1": {"vector": [6, 3]},
                                                 "e2": {"vector": [4, 0]}}
    listed = {e.name: e for e in client.executors()}[embed]
    assert (listed.kind, listed.workers) == ("worker", 1)


def test_exceptions_fail_and_retry(workers, client):
    name = unique("flaky")
    worker = workers()
    attempts = []

    @worker.executor(name)
    def flaky(task):
        attempts.append(task["retry_count"])
        if task["retry_count"] == 0:
            raise ConnectionResetError("peer reset")
        if task["task_data"] == "bad":
            raise batchd.NonRetryableError("cannot parse")
        return "ok"

    @worker.executor(unique("odd"))
    def unused(task):
        return None

    worker.start()
    summary = client.process([BatchTask("a", "good"), BatchTask("b", "bad")], executor=name,
                             retry_policy="fixed", retry_delay_ms=20,
                             aggregation_strategy="ordered")
    a, b = summary.results
    assert a.success and a.result == "ok" and a.retry_count == 1
    assert not b.success and b.error == "NonRetryableError: cannot parse" and b.retry_count == 1
    assert sorted(attempts) == [0, 0, 1, 1]


def test_unrepresentable_return_value_fails_without_retry(workers, client):
    name = unique("objects")
    worker = workers()
    worker.add_executor(name, lambda task: object())
    worker.start()
    result = client.process([BatchTask("a", None)], executor=name, retry_policy="fixed",
                            retry_delay_ms=10).results[0]
    assert not result.success and result.retry_count == 0
    assert result.error.startswith("TypeError: value: object is not JSON-representable")


def test_oversized_output_fails_the_task_not_the_stream(workers, client):
    name = unique("huge")
    worker = workers()
    worker.add_executor(name, lambda task: "x" * (17 << 20) if task["task_data"] else "small")
    worker.start()
    summary = client.process([BatchTask("big", True), BatchTask("after", False,
                                                                dependencies=["big"])],
                             executor=name, retry_policy="none",
                             on_dependency_failure="run_dependents",
                             aggregation_strategy="ordered")
    after, big = summary.results
    assert not big.success and big.error.startswith("ValueError: output is ")
    assert after.success and after.result == "small"


def test_builtin_executor_name_is_refused(workers):
    worker = workers()
    worker.add_executor("echo", lambda task: None)
    with pytest.raises(ValueError, match="provided by the daemon"):
        worker.start()


def test_batch_submitted_before_the_worker_connects(workers, client):
    name = unique("late")
    batch_id = client.submit([BatchTask("a", 21)], executor=name, wait_for_workers=True,
                             timeout_ms=30000)
    worker = workers()
    worker.add_executor(name, lambda task: task["task_data"] * 2)
    worker.start()
    results = list(client.stream_results(batch_id))
    assert [(r.task_id, r.result) for r in results] == [("a", 42)]


def test_cancel_reaches_the_running_call(workers, client):
    name = unique("long")
    worker = workers()
    started = threading.Event()
    stopped_early = threading.Event()

    @worker.executor(name)
    def long_call(task):
        started.set()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if batchd.cancelled():
                stopped_early.set()
                return None
            time.sleep(0.01)
        return "finished"

    worker.start()
    batch_id = client.submit([BatchTask("a", None)], executor=name)
    assert started.wait(20)
    client.cancel(batch_id, "test")
    assert stopped_early.wait(10)
    assert client.get(batch_id).state == "cancelled"


def test_round_robin_spreads_over_two_workers(workers, client):
    name = unique("spread")
    served = {"w1": 0, "w2": 0}
    lock = threading.Lock()
    for tag in served:
        worker = workers(name=tag, slots=2)

        def run(task, tag=tag):
            with lock:
                served[tag] += 1
            time.sleep(0.02)
            return tag

        worker.add_executor(name, run)
        worker.start()
    summary = client.process([BatchTask(str(i), i) for i in range(8)], executor=name,
                             max_concurrent=4, load_balancer="round_robin")
    assert summary.successful_count == 8
    assert served["w1"] >= 2 and served["w2"] >= 2


def test_stop_unregisters(workers, client):
    name = unique("brief")
    worker = workers()
    worker.add_executor(name, lambda task: None)
    worker.start()
    worker.stop()
    assert worker.worker_id == ""
    # Its only worker gone and no batch naming it, the executor is forgotten.
    assert wait_until(lambda: name not in {e.name for e in client.executors()}, 10)
