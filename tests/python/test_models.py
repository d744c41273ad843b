"""The data types, the four utility functions, names, JSON values and the error mapping: no
daemon needed."""

import asyncio
import math
from typing import List, Optional, Tuple

import grpc
import pytest

import batchd
from batchd import (BatchProcessSummary, BatchProgress, BatchResult, BatchTask,
                    calculate_optimal_batch_size, create_task_batches, estimate_batch_duration,
                    merge_batch_summaries)
from batchd import errors, rpc_status
from batchd.options import batch_options, canonical_name, LOAD_BALANCERS
from batchd.values import from_value, to_value, try_to_value


def summary(results, duration, retried=0):
    ok = sum(1 for r in results if r.success)
    return BatchProcessSummary(results, duration, ok, len(results) - ok, retried,
                               len(results) / duration * 1000 if duration else 0.0)


class TestBatchTask:
    def test_defaults_match_the_design(self):
        task = BatchTask("a", None)
        assert (task.priority, task.timeout_ms, task.retry_count, task.dependencies) == (
            0.0, None, 0, [])

    def test_positional_order_matches_the_design(self):
        task = BatchTask("b", "data", 0.5, 1000, 2, ["a"])
        assert (task.task_id, task.task_data, task.priority, task.timeout_ms, task.retry_count,
                task.dependencies) == ("b", "data", 0.5, 1000, 2, ["a"])

    def test_dependencies_as_a_string_is_refused(self):
        with pytest.raises(TypeError, match="list of task ids"):
            BatchTask("b", None, dependencies="a")


class TestSummary:
    def test_success_rate_and_average_duration(self):
        results = [BatchResult("a", True, 1, None, 10.0), BatchResult("b", True, 2, None, 30.0),
                   BatchResult("c", False, None, "ValueError: x", 20.0),
                   BatchResult("d", True, 4, None, 40.0)]
        s = summary(results, 100.0)
        assert s.success_rate() == pytest.approx(75.0)
        assert s.avg_duration_ms() == pytest.approx(25.0)

    def test_empty_summary_has_zero_rates(self):
        s = BatchProcessSummary()
        assert (s.success_rate(), s.avg_duration_ms(), s.results) == (0.0, 0.0, [])

    def test_hand_built_summary_uses_its_counts(self):
        """The design's figures for a summary without results: 8 of 10 succeeded, 1000 ms."""
        s = BatchProcessSummary(results=[], total_duration_ms=1000.0, successful_count=8,
                                failed_count=2, retried_count=3, throughput_per_second=10.0)
        assert s.success_rate() == 80.0
        assert s.avg_duration_ms() == 100.0

    def test_success_rate_counts_finished_tasks_not_results(self):
        # Counts win over the results list (a summary may carry only some results).
        s = BatchProcessSummary(results=[BatchResult("a", True, duration_ms=5.0)],
                                total_duration_ms=50.0, successful_count=3, failed_count=1)
        assert s.success_rate() == 75.0
        assert s.avg_duration_ms() == 5.0  # the mean of the results it has

    def test_average_of_results_ignores_total_duration(self):
        s = BatchProcessSummary(results=[BatchResult("a", True, duration_ms=10.0),
                                         BatchResult("b", True, duration_ms=20.0)],
                                total_duration_ms=1000.0, successful_count=2)
        assert s.avg_duration_ms() == 15.0

    def test_counts_of_zero_give_zero(self):
        s = BatchProcessSummary(total_duration_ms=500.0)
        assert (s.success_rate(), s.avg_duration_ms()) == (0.0, 0.0)
        assert BatchProcessSummary(successful_count=0, failed_count=4).success_rate() == 0.0

    def test_progress_defaults_are_zero(self):
        p = BatchProgress()
        assert (p.total_tasks, p.completed_tasks, p.progress_percentage) == (0, 0, 0.0)


class TestUtilities:
    def test_create_task_batches_splits_in_order(self):
        tasks = [BatchTask(str(i), i) for i in range(7)]
        batches = create_task_batches(tasks, 3)
        assert [[t.task_id for t in b] for b in batches] == [["0", "1", "2"], ["3", "4", "5"],
                                                             ["6"]]
        assert batches[0][0] is tasks[0]
        assert create_task_batches([], 4) == []

    def test_create_task_batches_with_size_zero_raises(self):
        with pytest.raises(ValueError, match="greater than 0"):
            create_task_batches([BatchTask("a", 1)], 0)

    def test_merge_batch_summaries(self):
        a = summary([BatchResult("a", True), BatchResult("b", False)], 100.0, retried=1)
        b = summary([BatchResult("c", True), BatchResult("d", True)], 300.0, retried=2)
        merged = merge_batch_summaries([a, b])
        assert [r.task_id for r in merged.results] == ["a", "b", "c", "d"]
        assert merged.total_duration_ms == 400.0
        assert (merged.successful_count, merged.failed_count, merged.retried_count) == (3, 1, 3)
        assert merged.throughput_per_second == pytest.approx(4 / 400.0 * 1000.0)
        empty = merge_batch_summaries([])
        assert (empty.results, empty.throughput_per_second) == ([], 0.0)

    def test_calculate_optimal_batch_size(self):
        assert calculate_optimal_batch_size(100, 10) == 10
        assert calculate_optimal_batch_size(105, 10) == 10
        assert calculate_optimal_batch_size(5, 10) == 1
        assert calculate_optimal_batch_size(5, 10, min_batch_size=4) == 4
        assert calculate_optimal_batch_size(5, 10, min_batch_size=0) == 1
        with pytest.raises(ValueError):
            calculate_optimal_batch_size(10, 0)

    def test_estimate_batch_duration(self):
        assert estimate_batch_duration(10, 100.0, 3) == 400.0  # ceil(10 / 3) waves
        assert estimate_batch_duration(9, 100.0, 3) == 300.0
        assert estimate_batch_duration(0, 100.0, 3) == 0.0
        assert estimate_batch_duration(10, 100.0, 0) == 0.0
        assert estimate_batch_duration(10, 0.0, 3) == 0.0
        assert estimate_batch_duration(10, -5.0, 3) == 0.0

    def test_design_names_are_aliases(self):
        assert batchd.create_task_batches_py is create_task_batches
        assert batchd.merge_batch_summaries_py is merge_batch_summaries
        assert batchd.calculate_optimal_batch_size_py is calculate_optimal_batch_size
        assert batchd.estimate_batch_duration_py is estimate_batch_duration


class TestNames:
    @pytest.mark.parametrize("spelling", ["round_robin", "RoundRobin", "round-robin",
                                          " ROUND_ROBIN "])
    def test_spellings(self, spelling):
        assert canonical_name("load balancer", spelling, LOAD_BALANCERS) == "round_robin"

    def test_unknown_name_lists_the_valid_ones(self):
        with pytest.raises(ValueError) as error:
            canonical_name("load balancer", "fastest", LOAD_BALANCERS)
        assert str(error.value) == ("Unknown load balancer 'fastest' (valid: least_loaded, "
                                    "random, round_robin, weighted)")

    def test_unknown_policy_and_strategy_raise_in_the_constructor(self):
        with pytest.raises(ValueError, match="valid: exponential, fixed, linear, none"):
            batchd.BatchProcessor(retry_policy="sometimes")
        with pytest.raises(ValueError, match="valid: ordered, priority, streaming, unordered"):
            batchd.BatchProcessor(aggregation_strategy="sorted")
        with pytest.raises(ValueError, match="max_concurrent"):
            batchd.BatchProcessor(max_concurrent=0)

    def test_set_load_balancer_validates(self):
        processor = batchd.BatchProcessor(target="127.0.0.1:1")
        try:
            assert processor.get_load_balancer() == "least_loaded"
            for name in ["round_robin", "least_loaded", "weighted", "random"]:
                processor.set_load_balancer(name)
                assert processor.get_load_balancer() == name
            with pytest.raises(ValueError, match="valid: least_loaded, random, round_robin"):
                processor.set_load_balancer("busiest")
            assert processor.get_load_balancer() == "random"
        finally:
            processor.close()

    def test_fixed_policy_options(self):
        options = batch_options(retry_policy="fixed", retry_delay_ms=250, max_retries=2)
        assert options.retry_policy.initial_delay_ms == 250
        assert options.retry_policy.max_retries == 2


class TestValues:
    def test_round_trip(self):
        value = {"a": [1, 2.5, None, True, "x", {}], "b": [], "c": {"d": -3}}
        assert from_value(to_value(value)) == value

    def test_tuples_become_lists(self):
        assert from_value(to_value((1, "a"))) == [1, "a"]

    @pytest.mark.parametrize("bad", [object(), {1: "a"}, math.nan, math.inf, {"f": print},
                                     10**400])
    def test_unrepresentable_values_raise_type_error(self, bad):
        with pytest.raises(TypeError):
            to_value(bad)

    def test_try_to_value_gives_null(self):
        assert try_to_value(object()).WhichOneof("kind") == "null_value"
        assert try_to_value("x" * 100, max_bytes=10).WhichOneof("kind") == "null_value"
        assert from_value(try_to_value([1])) == [1]

    def test_cycles_are_refused(self):
        loop = []
        loop.append(loop)
        with pytest.raises(TypeError, match="nested deeper"):
            to_value(loop)


# -- the error hierarchy ------------------------------------------------------------------------

def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def status_bytes(violations: List[Tuple[str, str]], *, code: int = 3,
                 type_url: str = "type.googleapis.com/google.rpc.BadRequest") -> bytes:
    """A serialized google.rpc.Status with one BadRequest detail, built by hand."""
    bad_request = b"".join(
        _field(1, (_field(1, f.encode()) if f else b"") + _field(2, d.encode()))
        for f, d in violations)
    detail = _field(1, type_url.encode()) + _field(2, bad_request)
    return (_varint(1 << 3 | 0) + _varint(code)       # Status.code (a varint)
            + _field(2, b"invalid batch")          # Status.message
            + _field(3, detail))                   # Status.details


class FakeRpcError(grpc.RpcError):
    """What a failed call raises, with the parts from_rpc_error reads."""

    def __init__(self, code: grpc.StatusCode, details: str,
                 trailing: Optional[bytes] = None) -> None:
        self._code, self._details, self._trailing = code, details, trailing

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self):
        if self._trailing is None:
            return ()
        return (("other-key", "x"), ("grpc-status-details-bin", self._trailing))


class TestErrorHierarchy:
    def test_every_status_code_but_ok_has_its_class(self):
        assert set(errors._BY_CODE) == set(grpc.StatusCode) - {grpc.StatusCode.OK}
        classes = list(errors._BY_CODE.values())
        assert len(set(classes)) == len(classes)
        assert all(issubclass(cls, batchd.BatchdError) for cls in classes)
        # ... and each is exported by the package.
        assert all(getattr(batchd, cls.__name__) is cls for cls in classes)

    @pytest.mark.parametrize("code, builtin", [
        (grpc.StatusCode.INVALID_ARGUMENT, ValueError),
        (grpc.StatusCode.OUT_OF_RANGE, ValueError),
        (grpc.StatusCode.NOT_FOUND, LookupError),
        (grpc.StatusCode.PERMISSION_DENIED, PermissionError),
        (grpc.StatusCode.UNAUTHENTICATED, PermissionError),
        (grpc.StatusCode.UNAVAILABLE, ConnectionError),
        (grpc.StatusCode.DEADLINE_EXCEEDED, TimeoutError),
        (grpc.StatusCode.UNIMPLEMENTED, NotImplementedError),
    ])
    def test_builtin_kinds(self, code, builtin):
        error = errors.from_rpc_error(FakeRpcError(code, "no"))
        assert isinstance(error, builtin)
        assert error.code is code

    def test_names_of_the_codes(self):
        expected = {
            "INVALID_ARGUMENT": "InvalidArgumentError",
            "FAILED_PRECONDITION": "FailedPreconditionError",
            "OUT_OF_RANGE": "OutOfRangeError", "NOT_FOUND": "NotFoundError",
            "ALREADY_EXISTS": "AlreadyExistsError",
            "PERMISSION_DENIED": "PermissionDeniedError",
            "UNAUTHENTICATED": "UnauthenticatedError",
            "RESOURCE_EXHAUSTED": "ResourceExhaustedError", "ABORTED": "AbortedError",
            "UNAVAILABLE": "UnavailableError", "DEADLINE_EXCEEDED": "DeadlineExceededError",
            "CANCELLED": "CallCancelledError", "UNIMPLEMENTED": "UnimplementedError",
            "INTERNAL": "InternalError", "DATA_LOSS": "DataLossError", "UNKNOWN": "UnknownError",
        }
        assert {code.name: cls.__name__ for code, cls in errors._BY_CODE.items()} == expected

    def test_a_cancelled_call_is_not_asyncio_cancellation(self):
        error = errors.from_rpc_error(FakeRpcError(grpc.StatusCode.CANCELLED, "gone"))
        assert isinstance(error, batchd.CallCancelledError)
        assert not isinstance(error, asyncio.CancelledError)
        assert not hasattr(batchd, "CancelledError")
        assert not hasattr(errors, "CancelledError")

    def test_the_daemon_message_and_the_unavailable_prefix(self):
        error = errors.from_rpc_error(
            FakeRpcError(grpc.StatusCode.INVALID_ARGUMENT, "Circular dependency: a -> b -> a"))
        assert (str(error), error.message, error.field_violations) == (
            "Circular dependency: a -> b -> a", "Circular dependency: a -> b -> a", [])
        down = errors.from_rpc_error(FakeRpcError(grpc.StatusCode.UNAVAILABLE, "refused"))
        assert str(down) == "batchd unavailable: refused"

    def test_a_code_this_client_does_not_know_is_unknown(self):
        error = errors.from_rpc_error(FakeRpcError(None, "odd"))
        assert type(error) is batchd.UnknownError

    def test_field_violations_from_the_trailer_and_in_str(self):
        trailer = status_bytes([("tasks[3].cache.ttl_ms", "ttl_ms must be at least 1"),
                                ("tasks[0].id", "Duplicate task id 'a'")])
        error = errors.from_rpc_error(
            FakeRpcError(grpc.StatusCode.INVALID_ARGUMENT, "Duplicate task id 'a'", trailer))
        assert error.field_violations == [("tasks[3].cache.ttl_ms", "ttl_ms must be at least 1"),
                                          ("tasks[0].id", "Duplicate task id 'a'")]
        # The violation the message already says is not repeated.
        assert str(error) == ("Duplicate task id 'a' (tasks[3].cache.ttl_ms: ttl_ms must be at "
                              "least 1)")
        assert error.message == "Duplicate task id 'a'"

    def test_str_shows_ten_violations_at_most(self):
        error = batchd.InvalidArgumentError(
            "bad", grpc.StatusCode.INVALID_ARGUMENT,
            [(f"tasks[{i}].id", f"empty id {i}") for i in range(12)] + [("", "no field")])
        text = str(error)
        assert text.startswith("bad (tasks[0].id: empty id 0; ")
        assert "tasks[9].id: empty id 9; 3 more)" in text
        assert "tasks[10]" not in text

    def test_task_side_exceptions(self):
        assert issubclass(batchd.NonRetryableError, batchd.TaskFailure)
        assert issubclass(batchd.Throttled, batchd.TaskFailure)
        assert not issubclass(batchd.TaskFailure, batchd.BatchdError)
        failure = batchd.TaskFailure("later", retry_after_ms=250)
        assert (failure.retryable, failure.retry_after_ms, str(failure)) == (True, 250, "later")
        assert batchd.NonRetryableError("no").retryable is False
        throttled = batchd.Throttled("429", retry_after_ms=2000)
        assert (throttled.retryable, throttled.retry_after_ms) == (True, 2000)
        usage = batchd.Usage({"answer": 1}, units_used=812)
        assert (usage.result, usage.units_used) == ({"answer": 1}, 812)
        with pytest.raises(ValueError):
            batchd.Usage(None, units_used=-1)
        with pytest.raises(TypeError):
            batchd.Usage(None, units_used=True)


class TestRpcStatusDecoding:
    def test_hand_built_status(self):
        data = status_bytes([("tasks[1].dependencies[0]", "Unknown dependency 'x'"),
                             ("", "a batch needs tasks")])
        assert rpc_status.field_violations(data) == [
            ("tasks[1].dependencies[0]", "Unknown dependency 'x'"), ("", "a batch needs tasks")]

    def test_utf8_and_several_details(self):
        first = status_bytes([("tâche", "déjà vue")])
        other = _field(3, _field(1, b"type.googleapis.com/google.rpc.ErrorInfo")
                       + _field(2, _field(1, b"REASON")))
        second = _field(3, _field(1, b"type.googleapis.com/google.rpc.BadRequest")
                        + _field(2, _field(1, _field(1, b"b") + _field(2, b"second"))))
        assert rpc_status.field_violations(first + other + second) == [
            ("tâche", "déjà vue"), ("b", "second")]

    def test_other_detail_types_give_none(self):
        data = status_bytes([("f", "d")], type_url="type.googleapis.com/google.rpc.ErrorInfo")
        assert rpc_status.field_violations(data) == []
        assert rpc_status.field_violations(b"") == []

    def test_skips_fixed_width_fields(self):
        fixed64 = _varint(9 << 3 | 1) + b"\x00" * 8
        fixed32 = _varint(10 << 3 | 5) + b"\x00" * 4
        data = fixed64 + fixed32 + status_bytes([("f", "d")])
        assert rpc_status.field_violations(data) == [("f", "d")]

    @pytest.mark.parametrize("malformed", [
        b"\xff",                                    # a varint that never ends
        b"\x1a\x10abc",                             # a length past the end
        _varint(3 << 3 | 7) + b"x",                 # wire type 7 does not exist
        b"\x80" * 11 + b"\x01",                     # a varint of more than 64 bits
        status_bytes([("f", "d")])[:-3],            # truncated
        _varint(9 << 3 | 1) + b"\x00" * 3,          # a fixed64 cut short
    ])
    def test_malformed_bytes_give_no_violations(self, malformed):
        assert rpc_status.field_violations(malformed) == []
