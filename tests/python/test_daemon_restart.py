"""The client side of a daemon that goes away: each test runs its own daemon."""

import subprocess
import sys
import threading
import time

import pytest

import batchd
from batchd import BatchTask
from conftest import DAEMON_FLAGS, Daemon, batchd_binary, python_env, wait_until


@pytest.fixture
def own_daemon(tmp_path):
    daemons = []

    def start(listen_port=None):
        flags = list(DAEMON_FLAGS)
        if listen_port is not None:
            flags.append(f"--listen=127.0.0.1:{listen_port}")
        daemon = Daemon(batchd_binary(), flags, str(tmp_path / f"batchd{len(daemons)}.log"))
        daemons.append(daemon)
        return daemon

    yield start
    for daemon in daemons:
        daemon.stop()


def test_worker_reconnects_to_a_restarted_daemon(own_daemon):
    first = own_daemon()
    port = first.address.rsplit(":", 1)[1]
    worker = batchd.Worker(first.address, name="survivor")
    worker.add_executor("double", lambda task: task["task_data"] * 2)
    worker.start()
    try:
        first_id = worker.worker_id
        first.stop()
        assert wait_until(lambda: worker.worker_id == "", 10)
        second = own_daemon(listen_port=port)
        assert worker.wait_registered(20), "the worker did not come back"
        with batchd.Client(second.address) as client:
            summary = client.process([BatchTask("a", 21)], executor="double")
        assert summary.results[0].result == 42
        assert first_id.startswith("survivor#")
    finally:
        worker.stop()


def test_daemon_gone_during_process_batch_raises_connection_error(own_daemon):
    daemon = own_daemon()
    processor = batchd.BatchProcessor(target=daemon.address, max_concurrent=2)
    started = threading.Event()

    def executor(task):
        started.set()
        time.sleep(0.5)

    # SIGKILL: a crash. (On SIGTERM the daemon drains, and the batch completes.)
    threading.Thread(target=lambda: started.wait(20) and daemon.process.kill(),
                     daemon=True).start()
    start = time.monotonic()
    with pytest.raises(ConnectionError):
        processor.process_batch([BatchTask("a", 1), BatchTask("b", 1, dependencies=["a"])],
                                executor)
    assert time.monotonic() - start < 20
    processor.close()


def test_interpreter_exits_promptly_without_close(own_daemon):
    daemon = own_daemon()
    script = (
        "from batchd import BatchProcessor, BatchTask, Worker\n"
        "p = BatchProcessor(max_concurrent=4)\n"
        "s = p.process_batch([BatchTask(str(i), i) for i in range(8)], lambda t: t['task_id'])\n"
        "w = Worker(name='leftover'); w.add_executor('leftover', lambda t: None); w.start()\n"
        "print('ok', s.successful_count)\n")
    start = time.monotonic()
    run = subprocess.run([sys.executable, "-c", script], env=python_env(daemon.address),
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "ok 8"
    assert time.monotonic() - start < 15
    # The streams were closed cleanly at exit: no worker is left registered, so no worker
    # executor is left either.
    with batchd.Client(daemon.address) as client:
        assert wait_until(lambda: not any(e.kind == "worker" for e in client.executors()), 10)
