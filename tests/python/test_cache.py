"""The result cache from Python: BatchTask(cache_ttl_ms=..., cache_key=..., cache_namespace=...),
BatchResult.cached / cached_from, Client.invalidate_cache and Client.cache_stats, against the
session's real daemon (inputs made unique per test: the daemon's cache is shared)."""

import re
import uuid

import pytest

from batchd import BatchTask
from batchd.options import task_message


def unique(name):
    return f"{name}-{uuid.uuid4().hex[:8]}"


class TestCacheFields:
    def test_the_task_message_carries_the_policy(self):
        message = task_message(BatchTask("a", cache_ttl_ms=5000, cache_key="k",
                                         cache_namespace="ns"), "echo")
        assert (message.cache.ttl_ms, message.cache.key, message.cache.namespace) == (
            5000, "k", "ns")
        assert not task_message(BatchTask("b"), "echo").HasField("cache")

    @pytest.mark.parametrize("kwargs, message", [
        ({"cache_key": "k"}, "cache_key and cache_namespace need cache_ttl_ms"),
        ({"cache_ttl_ms": -1}, "cache_ttl_ms must be a non-negative int (got -1)"),
        ({"cache_ttl_ms": 1.5}, "cache_ttl_ms must be a non-negative int (got 1.5)"),
    ])
    def test_malformed_policies_are_refused_naming_the_task(self, kwargs, message):
        with pytest.raises(ValueError, match=re.escape(f"BatchTask 'a': {message}")):
            BatchTask("a", **kwargs)


def test_a_repeated_task_is_served_from_the_cache(client):
    data = {"q": unique("weather")}
    first = client.process([BatchTask("a", data, cache_ttl_ms=60_000)], executor="echo")
    second = client.process([BatchTask("b", data, cache_ttl_ms=60_000)], executor="echo")
    assert first.results[0].cached is False and first.results[0].cached_from is None
    hit = second.results[0]
    assert (hit.success, hit.result, hit.cached) == (True, data, True)
    assert hit.cached_from == (first.batch_id, "a")
    assert hit.retry_count == 0


def test_a_daemon_side_error_names_the_field(client):
    with pytest.raises(ValueError, match="cache ttl_ms must be at least 1"):
        client.process([BatchTask("a", 1, cache_ttl_ms=0)], executor="echo")


def test_invalidation_and_stats(client):
    ns = unique("ns")
    before = client.cache_stats()
    client.process([BatchTask("k", 1, cache_ttl_ms=60_000, cache_key="user:1",
                              cache_namespace=ns),
                    BatchTask("d", {"v": 2}, cache_ttl_ms=60_000, cache_namespace=ns)],
                   executor="echo")
    again = client.process([BatchTask("k2", "other input", cache_ttl_ms=60_000,
                                      cache_key="user:1", cache_namespace=ns)],
                           executor="echo")
    assert again.results[0].cached and again.results[0].result == 1  # by key, not by input
    after = client.cache_stats()
    assert after["stored"] - before["stored"] == 2
    assert after["hits"] - before["hits"] == 1
    assert client.invalidate_cache(key="user:1", namespace=ns) == 1
    assert client.invalidate_cache(key="user:1", namespace=ns) == 0
    assert client.invalidate_cache(namespace=ns) == 1
    rerun = client.process([BatchTask("k3", 3, cache_ttl_ms=60_000, cache_key="user:1",
                                      cache_namespace=ns)], executor="echo")
    assert rerun.results[0].cached is False and rerun.results[0].result == 3
    with pytest.raises(ValueError, match="not both"):
        client.invalidate_cache(key="x", everything=True)
