"""The Celery application of the peers benchmark: one no-op task, Redis as broker and backend.

The broker URL comes from BENCH_REDIS_URL (bench/run_all.py starts redis-server on a free
loopback port). JSON serialisation, Celery's defaults otherwise.
"""
import os

from celery import Celery

app = Celery("batchd_bench",
             broker=os.environ["BENCH_REDIS_URL"],
             backend=os.environ["BENCH_REDIS_URL"])
app.conf.update(task_serializer="json", result_serializer="json", accept_content=["json"],
                worker_hijack_root_logger=False)


@app.task
def noop(i):
    return None
