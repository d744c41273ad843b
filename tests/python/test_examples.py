"""Every example in client/python/examples runs against the daemon, exits 0 and prints what it
must. Examples that call an OpenAI-compatible API run against the local one of
openai_server.py, whose counters are checked too (API_CHECKS)."""

import pathlib
import re
import subprocess
import sys
from typing import Callable, Dict

import pytest

from conftest import python_env
from openai_server import OpenAIServer

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
    "async_agent.py": ["planner spawned 4 tasks", "streamed 3 chunks",
                       "search: 4 parallel calls -> [5, 4, 4, 4]",
                       "answer: news found 17 hits, search found 17 hits, weather found 17 hits",
                       "server answered 12 calls"],
    "chat_completions.py": ["limit 'openai': 500 requests/min, 90000 tokens/min, 8 in flight",
                            "q11: cached (from q01) 'echo: Which files mention the config "
                            "loader?'",
                            "q12: cached (from q04)",
                            "12 chat completions: 12 succeeded, 2 served from the cache",
                            "10 calls answered; ", "(retries spent: 0)", "tokens used: "],
}


def check_chat_completions(stdout: str, api: OpenAIServer) -> None:
    """The API saw each distinct prompt once (the repeats came from the cache), never more
    than its rate answered, and as many 429s as the example says were absorbed."""
    assert api.answered == 10
    assert len(api.prompts) == 10 and set(api.prompts.values()) == {1}, api.prompts
    assert api.most_in_a_second <= api.requests_per_second
    absorbed = int(re.search(r"; (\d+) answered 429", stdout).group(1))
    assert absorbed == api.refused
    # 8 calls start at once against a 4-a-second API: some are refused; the daemon then
    # pauses and slows the key down instead of hammering it.
    assert 1 <= api.refused <= 10, api.refused
    assert api.requests == api.answered + api.refused
    assert f"tokens used: {api.total_tokens} " in stdout
    assert set(api.authorizations) == {"Bearer sk-test"}


# Examples calling an OpenAI-compatible API: run with $OPENAI_BASE_URL at a local one (4
# requests a second), then checked against its counters.
API_CHECKS: Dict[str, Callable[[str, OpenAIServer], None]] = {
    "chat_completions.py": check_chat_completions,
}


def test_every_example_is_covered():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example(name, address):
    env = python_env(address)
    api = OpenAIServer(requests_per_second=4) if name in API_CHECKS else None
    if api is not None:
        api.start()
        env.update(OPENAI_BASE_URL=api.base_url, OPENAI_API_KEY="sk-test")
        for variable in ("OPENAI_KEY_SECRET", "OPENAI_MODEL", "OPENAI_RPM", "OPENAI_TPM"):
            env.pop(variable, None)
    try:
        run = subprocess.run([sys.executable, str(EXAMPLES / name)], env=env,
                             capture_output=True, text=True, timeout=120)
    finally:
        if api is not None:
            api.stop()
    assert run.returncode == 0, f"stdout:\n{run.stdout}\nstderr:\n{run.stderr}"
    for line in EXPECTED[name]:
        assert line in run.stdout, f"{line!r} missing from:\n{run.stdout}"
    if api is not None:
        API_CHECKS[name](run.stdout, api)
