"""Shared limits in the Python client: BatchTask.limits and the batch options, the limits API
(Client.set_limit / limits / delete_limit), throttled progress, and workers reporting
Throttled and Usage. The first classes need no daemon; the rest run against the real one."""

import datetime
import threading
import time
import uuid

import pytest

import batchd
from batchd import BatchProgress, BatchTask, Limit, LimitStatus, LimitWait, Rate
from batchd._proto import batch_pb2, limit_service_pb2
from batchd.calls import CallPool, CallRunner, failure_outcome
from batchd.convert import progress_from_proto
from batchd.limits import limit_from_proto, limit_message, parse_period, status_from_proto
from batchd.options import batch_options, graph_messages, task_message
from conftest import wait_until


def unique(name):
    return f"{name}-{uuid.uuid4().hex[:8]}"


class TestTaskLimits:
    def test_pairs_keys_and_dicts_become_pairs(self):
        assert BatchTask("a", limits=[("openai", 1200), "db"]).limits == [("openai", 1200),
                                                                           ("db", 1)]
        assert BatchTask("a", limits={"openai": 5, "db": 1}).limits == [("openai", 5), ("db", 1)]
        assert BatchTask("a", limits=[["openai", 7]]).limits == [("openai", 7)]
        assert BatchTask("a").limits == [] and BatchTask("a", limits=()).limits == []

    def test_existing_positional_constructors_are_unchanged(self):
        task = BatchTask("b", "data", 0.5, 1000, 2, ["a"], "echo")
        assert (task.executor, task.dependencies, task.limits) == ("echo", ["a"], [])

    @pytest.mark.parametrize("limits, error, message", [
        ("openai", TypeError, "BatchTask 't': limits must be a list of keys or (key, units) "
                              "pairs, or a dict {key: units}, not the string 'openai'"),
        (5, TypeError, "BatchTask 't': limits must be a list of keys or (key, units) pairs, or "
                       "a dict {key: units} (got int)"),
        ([("openai", 1, 2)], TypeError, "BatchTask 't': limits[0] must be a key or a (key, "
                                        "units) pair (got ('openai', 1, 2))"),
        ([(1, 1)], TypeError, "BatchTask 't': limits[0]: the key must be a str (got int)"),
        ([("openai", 1.5)], TypeError, "BatchTask 't': limits[0]: units of limit 'openai' must "
                                       "be an int (got float)"),
        ({"openai": True}, TypeError, "BatchTask 't': limits[0]: units of limit 'openai' must "
                                      "be an int (got bool)"),
        ([("", 1)], ValueError, "BatchTask 't': limits[0]: the key must not be empty"),
        ([("openai", 0)], ValueError, "BatchTask 't': limit 'openai' units must be at least 1 "
                                      "(got 0)"),
        (["openai", ("openai", 3)], ValueError, "BatchTask 't': limit 'openai' is named twice"),
    ])
    def test_malformed_limits_are_refused_naming_the_task(self, limits, error, message):
        with pytest.raises(error) as raised:
            BatchTask("t", limits=limits)
        assert str(raised.value) == message

    def test_task_message_carries_the_limits(self):
        message = task_message(BatchTask("a", limits=[("openai", 1200), "db"]), "echo")
        assert [(u.key, u.units) for u in message.limits] == [("openai", 1200), ("db", 1)]
        assert not graph_messages([BatchTask("a", limits=["openai"])])[0].limits  # dry runs

    def test_batch_options_carry_the_limit_options(self):
        options = batch_options(default_limits={"openai": 10}, allow_unknown_limits=True,
                                queue_timeout_ms=5000)
        assert [(u.key, u.units) for u in options.default_limits] == [("openai", 10)]
        assert options.allow_unknown_limits and options.queue_timeout_ms == 5000
        unset = batch_options()
        assert not unset.default_limits and not unset.HasField("queue_timeout_ms")
        with pytest.raises(ValueError, match=r"default_limits: limit 'x' is named twice"):
            batch_options(default_limits=["x", "x"])
        with pytest.raises(ValueError, match=r"queue_timeout_ms must be >= 0 \(got -1\)"):
            batch_options(queue_timeout_ms=-1)

    def test_processor_checks_its_default_limits(self):
        with pytest.raises(TypeError, match="BatchProcessor default_limits: limits must be"):
            batchd.BatchProcessor(default_limits="openai")


class TestProgress:
    def test_old_positional_progress_still_constructs(self):
        progress = BatchProgress(4, 2, 2, 0, 50.0, 10.0, "b1", "running", 1, 1)
        assert (progress.throttled_tasks, progress.limit_waits) == (0, [])

    def test_progress_reads_throttled_tasks_and_limit_waits(self):
        message = batch_pb2.BatchProgress(
            batch_id="b1", total_tasks=5, pending_tasks=3, throttled_tasks=2,
            limit_waits=[batch_pb2.LimitWait(key="llm", tasks=2,
                                             reason="waiting for limit 'llm' (concurrency)")])
        progress = progress_from_proto(message)
        assert progress.throttled_tasks == 2
        assert progress.limit_waits == [
            LimitWait("llm", 2, "waiting for limit 'llm' (concurrency)")]


class TestRate:
    @pytest.mark.parametrize("per, seconds", [
        (1, 1.0), (0.25, 0.25), (datetime.timedelta(minutes=2), 120.0), ("second", 1.0),
        ("minute", 60.0), ("hour", 3600.0), ("day", 86400.0), ("1s", 1.0), ("250ms", 0.25),
        ("1m", 60.0), ("1.5m", 90.0), ("1h", 3600.0), (" 2 S ", 2.0),
    ])
    def test_periods(self, per, seconds):
        assert parse_period(per) == datetime.timedelta(seconds=seconds)
        assert Rate(10, per).per == datetime.timedelta(seconds=seconds)

    def test_spellings_of_one_rate_are_equal(self):
        assert Rate(1000, "minute") == Rate(1000, 60) == Rate(1000, "1m") == Rate(
            1000, datetime.timedelta(seconds=60), None, "units")

    @pytest.mark.parametrize("kwargs, error, message", [
        ({"units": 1, "per": "fortnight"}, ValueError, "Unknown period 'fortnight'"),
        ({"units": 1, "per": "1w"}, ValueError, "Unknown period '1w'"),
        ({"units": 1, "per": True}, TypeError, "a rate's period must be seconds"),
        ({"units": 1, "per": float("inf")}, ValueError, "a rate's period must be finite"),
        ({"units": 1, "per": [1]}, TypeError, r"a rate's period .* \(got list\)"),
        ({"units": 1.5, "per": 1}, TypeError, r"a rate's units must be an int \(got 1.5\)"),
        ({"units": 1, "per": 1, "burst": "9"}, TypeError, "a rate's burst must be an int"),
        ({"units": 1, "per": 1, "measure": "tokens"}, ValueError,
         r"Unknown rate measure 'tokens' \(valid: requests, units\)"),
    ])
    def test_malformed_rates_are_refused(self, kwargs, error, message):
        with pytest.raises(error, match=message):
            Rate(**kwargs)

    def test_measure_spellings(self):
        assert Rate(1, 1, measure="Requests").measure == "requests"

    def test_limit_checks_its_rates(self):
        with pytest.raises(TypeError, match=r"limit 'k': rates\[1\] is a tuple, not a "
                                            r"batchd.Rate"):
            Limit("k", rates=[Rate(1, 1), (1, 1)])
        with pytest.raises(TypeError, match="got a single Rate; wrap it in a list"):
            Limit("k", rates=Rate(1, 1))
        with pytest.raises(TypeError, match="limit 'k': max_in_flight must be an int"):
            Limit("k", max_in_flight="2")


class TestLimitMessages:
    def test_a_limit_round_trips_through_its_message(self):
        limit = Limit("llm", 2, [Rate(90_000, "minute", burst=9000),
                                 Rate(500, "1m", measure="requests")], "x-usage-tokens")
        message = limit_message(limit)
        assert message.max_in_flight == 2 and message.units_header == "x-usage-tokens"
        assert [(r.units, r.period.ToMilliseconds(), r.HasField("burst"), r.measure)
                for r in message.rates] == [
            (90_000, 60_000, True, limit_service_pb2.RATE_MEASURE_UNITS),
            (500, 60_000, False, limit_service_pb2.RATE_MEASURE_REQUESTS)]
        assert limit_from_proto(message) == limit
        assert not limit_message(Limit("c", rates=[Rate(1, 1)])).HasField("max_in_flight")

    def test_status_from_its_message(self):
        message = limit_service_pb2.LimitStatus(
            limit=limit_service_pb2.Limit(key="llm", max_in_flight=3), in_flight=2, waiting=4,
            throttled=1, available=[10.5], effective_units=[100.0])
        message.paused_until.FromSeconds(1_700_000_000)
        assert status_from_proto(message) == LimitStatus(
            Limit("llm", 3), 2, 4,
            datetime.datetime.fromtimestamp(1_700_000_000, datetime.timezone.utc), 1, [10.5],
            [100.0])
        assert status_from_proto(limit_service_pb2.LimitStatus()).paused_until is None


class TestExecutorOutcomes:
    def run(self, function):
        pool = CallPool(1, "test")
        replies = []
        done = threading.Event()

        def reply(outcome):
            replies.append(outcome)
            done.set()

        CallRunner(pool).run("a1", function, {"task_id": "t"}, reply,
                             render=batchd.values.to_value)
        assert done.wait(10)
        pool.shutdown()
        return replies[0]

    def test_throttled_is_a_retryable_throttled_failure(self):
        outcome = failure_outcome(batchd.Throttled("429 from the API", retry_after_ms=1500))
        assert (outcome.success, outcome.throttled, outcome.non_retryable,
                outcome.retry_after_ms, outcome.error) == (
            False, True, False, 1500, "Throttled: 429 from the API")
        assert isinstance(batchd.Throttled(), batchd.TaskFailure)
        assert not failure_outcome(batchd.TaskFailure("x")).throttled

    def test_usage_sets_units_used_and_unwraps_the_result(self):
        outcome = self.run(lambda task: batchd.Usage({"answer": 42}, units_used=812))
        assert outcome.success and outcome.units_used == 812
        assert outcome.output.struct_value["answer"] == 42
        assert not self.run(lambda task: "plain").HasField("units_used")

    def test_usage_is_reported_even_when_the_result_cannot_be_sent(self):
        outcome = self.run(lambda task: batchd.Usage(object(), units_used=3))
        assert (outcome.success, outcome.non_retryable, outcome.units_used) == (False, True, 3)

    def test_usage_checks_its_units(self):
        with pytest.raises(TypeError, match=r"Usage.units_used must be an int \(got 1.5\)"):
            batchd.Usage("r", units_used=1.5)
        with pytest.raises(ValueError, match=r"Usage.units_used must be >= 0 \(got -1\)"):
            batchd.Usage("r", units_used=-1)


# -- against the daemon -----------------------------------------------------------------------


def sleeps(count, ms, key, prefix):
    return [BatchTask(f"{prefix}{i}", {"ms": ms}, executor="sleep", limits=[key])
            for i in range(count)]


def test_set_list_delete_round_trip(client):
    key = unique("llm")
    rates = [Rate(90_000, "minute", burst=9000), Rate(500, "1m", measure="requests")]
    status = client.set_limit(key, max_in_flight=4, rates=rates, units_header="x-usage-tokens")
    assert status.limit == Limit(key, 4, rates, "x-usage-tokens")
    assert (status.in_flight, status.waiting, status.paused_until, status.throttled) == (
        0, 0, None, 0)
    assert status.available == [9000.0, 500.0]
    assert status.effective_units == [90_000.0, 500.0]
    listed = {s.limit.key: s for s in client.limits()}
    assert listed[key] == status

    updated = client.set_limit(key, max_in_flight=1)
    assert updated.limit == Limit(key, 1, [], "")
    assert {s.limit.key: s for s in client.limits()}[key].limit == Limit(key, 1)

    client.delete_limit(key)
    assert key not in {s.limit.key for s in client.limits()}
    with pytest.raises(batchd.NotFoundError) as raised:
        client.delete_limit(key)
    assert key in str(raised.value)


def test_an_invalid_limit_is_refused_with_the_daemons_message(client):
    key = unique("empty")
    with pytest.raises(batchd.InvalidArgumentError) as raised:
        client.set_limit(key)
    assert str(raised.value) == f"Limit '{key}' has neither max_in_flight nor a rate"
    assert raised.value.field_violations == [
        ("limit.rates", f"Limit '{key}' has neither max_in_flight nor a rate")]
    with pytest.raises(ValueError, match=r"rates\[0\].units must be at least 1, got 0"):
        client.set_limit(key, rates=[Rate(0, "second")])


def test_a_batch_naming_an_unknown_limit_is_refused(client):
    ghost = unique("ghost")
    tasks = [BatchTask("a", {"x": 1}), BatchTask("b", {"x": 2}, limits=[(ghost, 5)])]
    with pytest.raises(batchd.InvalidArgumentError) as raised:
        client.submit(tasks, executor="echo")
    message = str(raised.value)
    assert f"Unknown limit '{ghost}'" in message and "task 'b'" in message, message
    # Accepted, and not limited, with allow_unknown_limits.
    summary = client.process(tasks, executor="echo", allow_unknown_limits=True)
    assert summary.successful_count == 2


def test_two_clients_share_max_in_flight(address, client):
    key = unique("llm")
    client.set_limit(key, max_in_flight=2)
    with batchd.Client(address, timeout=30.0) as other:
        started = time.monotonic()
        first = client.submit(sleeps(6, 200, key, "a"), max_concurrent=6)
        second = other.submit(sleeps(6, 200, key, "b"), max_concurrent=6)
        # The two progress snapshots are taken one after the other, so their sum may count a
        # task of one batch that started as one of the other finished: each is checked alone,
        # the shared bound by the key's own count and by the run's length.
        most_running, most_in_flight, throttled, waits = 0, 0, 0, []
        while True:
            progress = [client.progress(first), other.progress(second)]
            status = {s.limit.key: s for s in client.limits()}[key]
            most_running = max([most_running] + [p.running_tasks for p in progress])
            most_in_flight = max(most_in_flight, status.in_flight)
            throttled = max(throttled, sum(p.throttled_tasks for p in progress))
            waits.extend(w for p in progress for w in p.limit_waits)
            if all(p.state not in ("pending", "running") for p in progress):
                break
            time.sleep(0.02)
        summaries = [client.get(first), other.get(second)]
        elapsed = time.monotonic() - started
    assert [s.successful_count for s in summaries] == [6, 6]
    # 12 calls of 200 ms, 2 at a time: at least 6 rounds (a lower bound: slowness cannot fail it).
    assert elapsed >= 6 * 0.2 * 0.95, elapsed
    assert most_running <= 2 and most_in_flight <= 2, (most_running, most_in_flight)
    assert most_in_flight == 2
    assert throttled > 0
    assert waits and {w.key for w in waits} == {key}
    assert all(w.tasks > 0 and key in w.reason for w in waits), waits
    client.delete_limit(key)


def test_default_limits_apply_to_every_task(client):
    key = unique("db")
    client.set_limit(key, max_in_flight=1)
    started = time.monotonic()
    tasks = [BatchTask(f"s{i}", {"ms": 100}, executor="sleep") for i in range(3)]
    summary = client.process(tasks, max_concurrent=3, default_limits=[key])
    elapsed = time.monotonic() - started
    assert summary.successful_count == 3
    assert elapsed >= 0.3, f"3 x 100 ms one at a time took {elapsed:.3f}s"
    client.delete_limit(key)


@pytest.fixture
def worker(address):
    made = []

    def make(**kwargs):
        kwargs.setdefault("target", address)
        w = batchd.Worker(**kwargs)
        made.append(w)
        return w

    yield make
    for w in made:
        w.stop()


def test_a_throttled_attempt_is_retried_without_spending_retries(worker, client):
    key, name = unique("api"), unique("call-api")
    client.set_limit(key, rates=[Rate(100, "second")])
    attempts = []
    w = worker(name="throttled")

    @w.executor(name)
    def call_api(task):
        attempts.append(time.monotonic())
        if len(attempts) == 1:
            raise batchd.Throttled("429 Too Many Requests", retry_after_ms=300)
        return {"ok": True}

    w.start()
    summary = client.process([BatchTask("t", None, limits=[(key, 1)])], executor=name,
                             max_retries=0)
    [result] = summary.results
    assert (result.success, result.result, result.retry_count) == (True, {"ok": True}, 0)
    assert len(attempts) == 2
    assert attempts[1] - attempts[0] >= 0.25, "the key paused for retry_after_ms"
    status = {s.limit.key: s for s in client.limits()}[key]
    assert status.throttled == 1
    client.delete_limit(key)


def test_usage_reconciles_the_units_charged(worker, client):
    key, name = unique("tokens"), unique("llm")
    # 1000 per hour refills under 0.3 units a second: what is left is what was charged.
    client.set_limit(key, rates=[Rate(1000, "hour")])
    w = worker(name="usage")

    @w.executor(name)
    def complete(task):
        return batchd.Usage({"text": "hi"}, units_used=100)

    w.start()
    summary = client.process([BatchTask("t", None, limits=[(key, 600)])], executor=name)
    assert summary.results[0].result == {"text": "hi"}
    assert wait_until(lambda: {s.limit.key: s for s in client.limits()}[key].available[0]
                      >= 899.0, timeout=5.0)
    available = {s.limit.key: s for s in client.limits()}[key].available[0]
    assert available == pytest.approx(900.0, abs=5.0), "charged 100 of the 600 taken"
    client.delete_limit(key)


def test_a_processor_batch_uses_its_default_limits(processor_factory, client):
    key = unique("proc")
    client.set_limit(key, max_in_flight=1)
    running, most = [0], [0]
    lock = threading.Lock()

    def work(task):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        return task["task_id"]

    processor = processor_factory(max_concurrent=4, default_limits=[key])
    summary = processor.process_batch([BatchTask(f"p{i}", i) for i in range(4)], work)
    assert summary.successful_count == 4 and most[0] == 1
    client.delete_limit(key)
