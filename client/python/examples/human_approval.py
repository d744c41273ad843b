"""Human approval: a step of a batch that a person (or another system) completes.

An agent drafts a post, a person approves it, and only then is it published. The "review" task
runs on executor "external": it is RUNNING without holding a slot, waits without a timeout,
and its attempt carries a token that whoever completes it must present. The batch's progress
lists it with its token and input (``awaiting_completion``); ``Client.complete_task`` (or
``batchctl complete BATCH review --output '{...}'``) completes it from any process.

Here the reviewer is a second process (``human_approval.py review BATCH_ID``) that reads the
draft from the batch's progress and approves it. A slow translation nobody needs any more is
cancelled on its own with ``cancel_task``: the rest of the batch goes on.
"""

import json
import subprocess
import sys
import time

import batchd
from batchd import BatchTask


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
        draft = waiting["review"].input["draft"]
        print(f"reviewer sees: {draft!r}")
        state = client.complete_task(batch_id, "review", {"approved": True, "by": "reviewer"},
                                     token=waiting["review"].token)
        print(f"reviewer: review {state}")


def main() -> None:
    with batchd.Client() as client:
        batch_id = client.submit([
            BatchTask("draft", "batchd 1.0 is out", executor="echo"),
            # The draft's output goes into the review's input: what the person sees.
            BatchTask("review", {"draft": {"$ref": "draft"}}, dependencies=["draft"],
                      executor="external"),
            BatchTask("publish", {"post": {"$ref": "draft"}, "approval": {"$ref": "review"}},
                      dependencies=["draft", "review"], executor="echo"),
            BatchTask("translate", 600000, executor="sleep"),
        ])
        print(f"submitted {batch_id}")
        second = subprocess.run([sys.executable, __file__, "review", batch_id],
                                capture_output=True, text=True, timeout=60)
        print(second.stdout, end="")
        if second.returncode != 0:
            sys.exit(f"reviewer failed: {second.stderr}")
        cancelled = client.cancel_task(batch_id, "translate", "not needed for this post")
        print(f"translate: {cancelled.state} ({cancelled.error})")
        for result in client.stream_results(batch_id):
            print(f"{result.task_id}: {result.state} {json.dumps(result.result, sort_keys=True)}")
        summary = client.get(batch_id)
        print(f"batch {summary.state}: {summary.successful_count} succeeded")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "review":
        reviewer(sys.argv[2])
    else:
        main()
