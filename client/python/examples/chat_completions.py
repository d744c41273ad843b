"""Parallel chat completions through the daemon's http executor, within one API quota, cached.

The pattern: an agent fans out a dozen LLM calls at once. The daemon makes the HTTP calls
itself (executor "http": pooled keep-alive HTTPS connections, no Python thread per call), and
the calls share a limit "openai" with every other batch and client of the daemon:

* ``Client.set_limit("openai", max_in_flight=8, rates=[RPM, TPM])``: requests per minute
  (``Rate(..., measure="requests")``) *and* tokens per minute, both enforced. Usually set once
  by whoever runs the daemon (or its ``--limits-file``); agents only name the key.
* Each task names the key with the tokens it expects to use (``limits=[("openai", 260)]``:
  the prompt's size plus ``max_tokens``); a task waits PENDING while the key has no room.
* A 429 is absorbed, not failed: the http executor reads ``Retry-After``, the key pauses for
  every caller and slows down, and the call runs again without spending its retries.
* ``units_header``: when the API (or a gateway in front of it) reports the tokens an answer
  used in a response header, the limit is charged that instead of the estimate. OpenAI itself
  reports usage only in the body (``usage.total_tokens``, printed below), so with it the
  estimate stands.
* ``cache_ttl_ms``: a prompt asked again (here two of the twelve) is served from the daemon's
  result cache — the same executor and input — without a call; an identical call still
  running is joined rather than repeated. Such results say ``cached``.

Environment: ``$OPENAI_BASE_URL`` (default https://api.openai.com/v1, or any
OpenAI-compatible server), ``$OPENAI_API_KEY`` (sent as ``Authorization: Bearer ...``),
``$OPENAI_MODEL`` (default gpt-4o-mini), ``$OPENAI_RPM`` / ``$OPENAI_TPM`` (the limit's rates,
default 500 and 90,000). A key passed in the task is part of the batch (its journal and cache
key): in production give the daemon ``--secrets-file`` ({"openai": "sk-..."}) and write the
header as ``"Bearer ${secret:openai}"`` — set ``$OPENAI_KEY_SECRET=openai`` to do that here;
the key then never leaves the daemon, and is redacted from anything that comes back.
"""

import math
import os
import sys
from typing import Any, Dict, List

import batchd
from batchd import BatchResult, BatchTask, Rate

LIMIT = "openai"
CACHE_NAMESPACE = "chat-completions-example"
MAX_TOKENS = 256
QUESTIONS = [
    "Which files mention the config loader?",
    "Summarise the failing test output.",
    "What does the retry policy do on a 503?",
    "List the public functions of client.py.",
    "Is the cache key stable across restarts?",
    "Which flags does the daemon accept?",
    "Explain the dependency layers of the build.",
    "What changed in the last release?",
    "Which executor runs shell commands?",
    "How are secrets redacted from results?",
]
# Twelve calls: the ten questions, and two asked again (an agent repeating itself).
PROMPTS = QUESTIONS + [QUESTIONS[0], QUESTIONS[3]]


def estimated_tokens(prompt: str) -> int:
    """What a call may use: ~4 characters a token for the prompt, plus the answer's bound."""
    return math.ceil(len(prompt) / 4) + 8 + MAX_TOKENS


def authorization() -> Dict[str, str]:
    """The Authorization header: a daemon secret's template, the key itself, or none."""
    secret = os.environ.get("OPENAI_KEY_SECRET")
    if secret:
        return {"Authorization": "Bearer ${secret:" + secret + "}"}
    key = os.environ.get("OPENAI_API_KEY")
    return {"Authorization": f"Bearer {key}"} if key else {}


def chat_task(task_id: str, prompt: str, base_url: str, model: str) -> BatchTask:
    """One chat completion, as the http executor's input."""
    return BatchTask(
        task_id,
        {
            "method": "POST",
            "url": f"{base_url}/chat/completions",
            "headers": authorization(),
            "body": {"model": model, "temperature": 0, "max_tokens": MAX_TOKENS,
                     "messages": [{"role": "system", "content": "You are a coding agent."},
                                  {"role": "user", "content": prompt}]},
            "timeout_ms": 60_000,
        },
        executor="http",
        limits=[(LIMIT, estimated_tokens(prompt))],
        cache_ttl_ms=10 * 60 * 1000,
        cache_namespace=CACHE_NAMESPACE,
    )


def answer_of(result: BatchResult) -> str:
    return result.result["body"]["choices"][0]["message"]["content"]


def tokens_of(result: BatchResult) -> int:
    return int(result.result["body"]["usage"]["total_tokens"])


def main() -> int:
    base_url = os.environ.get("OPENAI_BASE_URL", "https://api.openai.com/v1").rstrip("/")
    model = os.environ.get("OPENAI_MODEL", "gpt-4o-mini")
    rpm = int(os.environ.get("OPENAI_RPM", "500"))
    tpm = int(os.environ.get("OPENAI_TPM", "90000"))

    with batchd.Client() as client:
        status = client.set_limit(LIMIT, max_in_flight=8, rates=[
            Rate(rpm, "minute", measure="requests"),
            Rate(tpm, "minute"),
        ], units_header="x-usage-total-tokens")
        throttled_before = status.throttled
        print(f"limit {LIMIT!r}: {rpm} requests/min, {tpm} tokens/min, "
              f"{status.limit.max_in_flight} in flight")
        # A clean cache, so every run of the example shows the same (an agent keeps its own).
        client.invalidate_cache(namespace=CACHE_NAMESPACE)

        tasks = [chat_task(f"q{i + 1:02d}", prompt, base_url, model)
                 for i, prompt in enumerate(PROMPTS)]
        summary = client.process(tasks, aggregation_strategy="ordered", max_concurrent=12,
                                 retry_policy="exponential", retry_delay_ms=500,
                                 queue_timeout_ms=120_000)

        for result in summary.results:
            if not result.success:
                print(f"  {result.task_id}: FAILED {result.error}")
            elif result.cached:
                source = result.cached_from[1] if result.cached_from else "?"
                print(f"  {result.task_id}: cached (from {source}) {answer_of(result)!r}")
            else:
                print(f"  {result.task_id}: {tokens_of(result)} tokens {answer_of(result)!r}")

        ok: List[BatchResult] = [r for r in summary.results if r.success]
        cached = [r for r in ok if r.cached]
        called = [r for r in ok if not r.cached]
        final = {s.limit.key: s for s in client.limits()}[LIMIT]
        absorbed = final.throttled - throttled_before
        print(f"{len(tasks)} chat completions: {len(ok)} succeeded, "
              f"{len(cached)} served from the cache")
        print(f"{len(called)} calls answered; {absorbed} answered 429 and were retried "
              f"after Retry-After (retries spent: "
              f"{sum(r.retry_count for r in summary.results)})")
        print(f"tokens used: {sum(tokens_of(r) for r in called)} "
              f"(estimated {sum(estimated_tokens(p) for p in PROMPTS[:len(QUESTIONS)])}, "
              f"cached answers cost none)")
        return 0 if len(ok) == len(tasks) else 1


if __name__ == "__main__":
    sys.exit(main())
