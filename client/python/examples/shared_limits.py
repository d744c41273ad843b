"""Shared limits: two clients, one LLM quota.

An API allows 3 calls at once and 4,000 tokens a second. The limit "llm" says so once, in the
daemon; every task that calls the API names it with the tokens it expects to use, whichever
client, batch or language submitted it. Tasks wait PENDING (throttled) while the quota has no
room, and progress says what they wait for.

Here "alice" submits sleep tasks standing in for calls, and "bob" submits tasks a Python
worker serves: it returns ``batchd.Usage(result, units_used=...)`` with the tokens the answer
really used (the limit is charged the difference), and once raises ``batchd.Throttled`` as an
API answering 429 would: the key pauses for everyone for retry_after_ms and the task runs
again without spending a retry.
"""

import threading
import time

import batchd
from batchd import BatchTask, Rate

KEY = "llm"
ESTIMATED_TOKENS = 1000

worker = batchd.Worker(name="llm-proxy", slots=4)
_throttled_once = threading.Event()


@worker.executor("complete")
def complete(task):
    """A fake LLM call: 100 ms; the first call is refused for the rate."""
    if not _throttled_once.is_set():
        _throttled_once.set()
        raise batchd.Throttled("429 Too Many Requests", retry_after_ms=200)
    time.sleep(0.1)
    prompt = task["task_data"]["prompt"]
    return batchd.Usage({"answer": prompt.upper()}, units_used=400 + len(prompt))


def submit_and_watch(name, tasks, executor, watched):
    with batchd.Client() as client:
        batch_id = client.submit(tasks, executor=executor, max_concurrent=len(tasks))
        for progress in client.watch(batch_id, min_interval_ms=20):
            watched.append((name, progress))
        summary = client.get(batch_id)
        print(f"{name}: {summary.successful_count}/{len(tasks)} succeeded, "
              f"retried: {summary.retried_count}")
        return summary


def main() -> None:
    with batchd.Client() as admin, worker:
        status = admin.set_limit(KEY, max_in_flight=3, rates=[Rate(4000, "second")])
        print(f"limit {KEY!r}: {status.limit.max_in_flight} in flight, "
              f"{status.limit.rates[0].units} tokens per {status.limit.rates[0].per}")

        alice = [BatchTask(f"a{i}", {"ms": 150}, limits=[(KEY, ESTIMATED_TOKENS)])
                 for i in range(6)]
        bob = [BatchTask(f"b{i}", {"prompt": f"question {i}"}, limits={KEY: ESTIMATED_TOKENS})
               for i in range(6)]
        watched = []
        results = {}
        threads = [
            threading.Thread(target=lambda: results.update(
                alice=submit_and_watch("alice", alice, "sleep", watched))),
            threading.Thread(target=lambda: results.update(
                bob=submit_and_watch("bob", bob, "complete", watched))),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        waits = [(name, p) for name, p in watched if p.throttled_tasks]
        if waits:
            name, progress = max(waits, key=lambda w: w[1].throttled_tasks)
            reasons = sorted({w.reason for _, p in waits for w in p.limit_waits})
            print(f"tasks waited for {KEY!r}: up to {progress.throttled_tasks} of {name}'s "
                  f"at once ({'; '.join(reasons)})")
        bob_results = results["bob"].results
        print(f"bob's answers: {sorted(r.result['answer'] for r in bob_results)[:2]} ...")
        assert all(r.retry_count == 0 for r in bob_results)
        print("the 429 was retried without spending a retry")
        final = {s.limit.key: s for s in admin.limits()}[KEY]
        print(f"limit {KEY!r} now: {final.in_flight} in flight, {final.throttled} throttled "
              f"attempt(s) reported")
        assert results["alice"].successful_count == results["bob"].successful_count == 6
        admin.delete_limit(KEY)


if __name__ == "__main__":
    main()
