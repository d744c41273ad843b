"""The data types, the four utility functions, names and JSON values: no daemon needed."""

import math

import pytest

import batchd
from batchd import (BatchProcessSummary, BatchProgress, BatchResult, BatchTask,
                    calculate_optimal_batch_size, create_task_batches, estimate_batch_duration,
                    merge_batch_summaries)
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
