"""Cross-language setup: Python serves the executor "embed"; any client submits batches
naming it. Run it as a long-lived worker with

    python3 -m batchd worker client/python/examples/cross_language_worker.py

and submit from C++ (batchctl, a batch file with "executor": "embed"), Go, grpcurl or Python.
Run directly, this file starts the worker, submits a batch with batchd.Client (as a C++ or Go
client would) and stops.
"""

import hashlib

import batchd

worker = batchd.Worker(name="embedder", slots=4)


@worker.executor("embed")
def embed(task):
    """A toy embedding: task_data is {"text": ...}; returns {"vector": [...]}."""
    digest = hashlib.sha256(task["task_data"]["text"].encode()).digest()
    return {"vector": [round(b / 255, 3) for b in digest[:4]]}


def main() -> None:
    with worker:  # starts, waits for the registration, stops at the end
        print(f"serving 'embed' as {worker.worker_id}")
        texts = ["hello", "batchd", "embeddings"]
        with batchd.Client() as client:
            batch_id = client.submit(
                [batchd.BatchTask(f"embed_{i}", {"text": t}) for i, t in enumerate(texts)],
                executor="embed", aggregation_strategy="ordered")
            for result in client.stream_results(batch_id):
                print(f"  {result.task_id}: {result.result['vector']}")
            summary = client.get(batch_id)
            print(f"batch {batch_id}: {summary.state}, {summary.successful_count} vectors")
            assert summary.successful_count == len(texts)


if __name__ == "__main__":
    main()
