"""CallPool (batchd/call_pool.py): jobs that block still fan out over the pool, short jobs run
on few threads, abandoned calls never stall new work. No daemon; every wait is bounded."""

import threading

import pytest

from batchd.call_pool import CallPool

WAIT_S = 10.0


def test_blocking_jobs_all_run_at_once():
    pool = CallPool(8, "test")
    barrier = threading.Barrier(8, timeout=WAIT_S)
    done = []
    all_passed = threading.Event()

    def job(index: int) -> None:
        barrier.wait()
        done.append(index)
        if len(done) == 8:
            all_passed.set()

    for index in range(8):
        pool.submit(lambda index=index: job(index))
    assert all_passed.wait(WAIT_S)
    # Every job passed the barrier: 8 ran at the same time (no BrokenBarrierError logged).
    assert sorted(done) == list(range(8))
    assert pool.threads == 8
    pool.shutdown()


def test_a_burst_of_short_jobs_runs_on_few_threads():
    pool = CallPool(64, "test")
    count = [0]
    lock = threading.Lock()
    all_done = threading.Event()

    def job():
        with lock:
            count[0] += 1
            if count[0] == 5000:
                all_done.set()

    pool.submit_all([job] * 5000)
    assert all_done.wait(WAIT_S)
    assert count[0] == 5000
    # One thread is woken per burst, and one more per job only while none is on its way.
    assert pool.threads < 8
    pool.shutdown()


def test_a_job_beyond_size_gets_a_thread_while_abandoned_calls_hold_theirs():
    pool = CallPool(2, "test")
    release = threading.Event()
    started = threading.Semaphore(0)

    def stuck():
        started.release()
        release.wait(WAIT_S)

    pool.submit(stuck)
    pool.submit(stuck)
    assert started.acquire(timeout=WAIT_S) and started.acquire(timeout=WAIT_S)
    ran = threading.Event()
    pool.submit(ran.set)  # both threads are held (as by abandoned calls): a third starts
    assert ran.wait(WAIT_S)
    assert pool.threads == 3
    release.set()
    pool.shutdown()


def test_submit_after_shutdown_is_refused():
    pool = CallPool(1, "test")
    pool.shutdown()
    with pytest.raises(RuntimeError, match="CallPool is shut down"):
        pool.submit(lambda: None)
