"""Every example in client/python/examples runs against the daemon and exits 0."""

import pathlib
import subprocess
import sys

import pytest

from conftest import python_env

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "client" / "python" / "examples"
# What each example must print (beyond exiting 0).
EXPECTED = {
    "basic_usage.py": ["Completed: 2/2", "Success rate: 100.0%", "task1: 'Result for task1'",
                       "Callable task_data: [('greet', 'hello'), ('square', 49)]"],
    "dependency_management.py": ["Execution layers: [['compile'], ['test'], ['deploy']]",
                                 "deploy: deployed app.bin", "Invalid task dependencies!"],
    "streaming_results.py": ["✓ small.txt: 5 MB", "✗ broken.zip: OSError: checksum mismatch",
                             "3 ok, 1 failed"],
    "load_balancing.py": ["Worker assignments: [3, 3, 2, 2]", "round_robin:", "weighted:",
                          "rejected: Unknown load balancer 'fastest'"],
    "multi_agent_pipeline.py": ["review: {'approved': True", "5/5 agents done"],
    "parallel_api_calls.py": ["9 calls in", "retried: 1", "call_8: {'path': '/flaky'"],
    "cross_language_worker.py": ["serving 'embed' as embedder#", "embed_0: [", "3 vectors"],
    "planner_approval.py": ["reviewer sees 3 notes: 'found: release date', ...",
                            "reviewer: review succeeded",
                            "translate: cancelled (Cancelled: not needed for this post)",
                            'plan: succeeded {"batch_tasks": 8, "spawned": 6}',
                            'review: succeeded {"approved": true, "by": "reviewer"}',
                            'publish: succeeded {"approval": {"approved": true, "by": '
                            '"reviewer"}, "post": {"notes": ["found: release date", '
                            '"found: new features", "found: benchmarks"]}}',
                            "batch failed: 7 of 8 succeeded"],
    "shared_limits.py": ["limit 'llm': 3 in flight, 4000 tokens per 0:00:01",
                         "alice: 6/6 succeeded", "bob: 6/6 succeeded", "tasks waited for 'llm'",
                         "the 429 was retried without spending a retry",
                         "0 in flight, 1 throttled attempt(s) reported"],
}


def test_every_example_is_covered():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example(name, address):
    run = subprocess.run([sys.executable, str(EXAMPLES / name)], env=python_env(address),
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, f"stdout:\n{run.stdout}\nstderr:\n{run.stderr}"
    for line in EXPECTED[name]:
        assert line in run.stdout, f"{line!r} missing from:\n{run.stdout}"
