"""A planner that spawns tool calls, and a person who approves the result before it is published.

An agent's "plan" step decides which searches to run; it adds them to its own batch with
``batchd.spawn(...)`` (AddTasks) and returns at once: it holds no slot while they run, so even
with ``max_concurrent=1`` nothing waits for a slot the planner keeps. It also adds a "draft" that
combines the searches, a "review" that a person completes, and a "publish" that runs only once
the review approved it.

"review" runs on executor "external": it is RUNNING without holding a slot, waits without a
timeout, and its attempt carries a token that whoever completes it must present. The batch's
progress lists it with its token and input (``awaiting_completion``); ``Client.complete_task``
(or ``batchctl complete BATCH review --output '{...}'``) completes it from any process. Here the
reviewer is a second process (``planner_approval.py review BATCH_ID``) that reads the draft from
the batch's progress and approves it. A slow translation nobody needs any more is cancelled on
its own with ``cancel_task``: the rest of the batch goes on.
"""

import json
import subprocess
import sys
import time

import batchd
from batchd import BatchTask

QUESTIONS = ["release date", "new features", "benchmarks"]

worker = batchd.Worker(name="agent", slots=2)


@worker.executor("plan")
def plan(task):
    """Decides the tool calls, spawns them and what follows them, and returns."""
    searches = [BatchTask(f"search-{i}", {"q": q}, executor="search")
                for i, q in enumerate(task["task_data"]["questions"])]
    draft = BatchTask("draft", {"notes": [{"$ref": s.task_id} for s in searches]},
                      dependencies=[s.task_id for s in searches], executor="echo")
    review = BatchTask("review", {"draft": {"$ref": "draft"}}, dependencies=["draft"],
                       executor="external")
    publish = BatchTask("publish", {"post": {"$ref": "draft"}, "approval": {"$ref": "review"}},
                        dependencies=["draft", "review"], executor="echo")
    total = batchd.spawn(searches + [draft, review, publish])
    return {"spawned": len(searches) + 3, "batch_tasks": total}


@worker.executor("search")
def search(task):
    """A stand-in for a search API call."""
    return f"found: {task['task_data']['q']}"


def reviewer(batch_id: str) -> None:
    """The second process: waits for the review step, reads what it reviews, approves it."""
    with batchd.Client() as client:
        for _ in range(600):
            waiting = {a.task_id: a for a in client.progress(batch_id).awaiting_completion}
            if "review" in waiting:
                break
            time.sleep(0.05)
        else:
            sys.exit("review never waited for approval")
        notes = waiting["review"].input["draft"]["notes"]
        print(f"reviewer sees {len(notes)} notes: {notes[0]!r}, ...")
        state = client.complete_task(batch_id, "review", {"approved": True, "by": "reviewer"},
                                     token=waiting["review"].token)
        print(f"reviewer: review {state}")


def main() -> None:
    worker.start()
    try:
        with batchd.Client() as client:
            batch_id = client.submit([
                BatchTask("plan", {"questions": QUESTIONS}, executor="plan"),
                # Low priority: the spawned tool calls go first when the slot frees.
                BatchTask("translate", 600000, priority=-1, timeout_ms=700000,
                          executor="sleep"),
            ], max_concurrent=1)
            print(f"submitted {batch_id}")
            second = subprocess.run([sys.executable, __file__, "review", batch_id],
                                    capture_output=True, text=True, timeout=60)
            print(second.stdout, end="")
            if second.returncode != 0:
                sys.exit(f"reviewer failed: {second.stderr}")
            cancelled = client.cancel_task(batch_id, "translate", "not needed for this post")
            print(f"translate: {cancelled.state} ({cancelled.error})")
            for result in client.stream_results(batch_id):
                print(f"{result.task_id}: {result.state} "
                      f"{json.dumps(result.result, sort_keys=True)}")
            summary = client.get(batch_id)
            print(f"batch {summary.state}: {summary.successful_count} of "
                  f"{len(summary.results)} succeeded")
    finally:
        worker.stop()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "review":
        reviewer(sys.argv[2])
    else:
        main()
