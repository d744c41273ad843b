"""python3 -m batchd."""

import pathlib
import subprocess
import sys

from conftest import python_env, wait_until

import batchd

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "client" / "python" / "examples"


def run_cli(address, *args, timeout=60):
    return subprocess.run([sys.executable, "-m", "batchd", *args], env=python_env(address),
                          capture_output=True, text=True, timeout=timeout)


def test_help(address):
    result = run_cli(address, "--help")
    assert result.returncode == 0
    assert "BatchProcessor" in result.stdout and "worker" in result.stdout


def test_executors_and_list(address, client):
    result = run_cli(address, "executors")
    assert result.returncode == 0 and "echo" in result.stdout
    batch_id = client.submit([batchd.BatchTask("a", 1)])
    result = run_cli(address, "--addr", address, "list", "--limit", "0")
    assert result.returncode == 0 and batch_id in result.stdout


def test_unreachable_daemon(address):
    result = run_cli(address, "--addr", "127.0.0.1:1", "executors")
    assert result.returncode == 1 and "unavailable" in result.stderr


def test_worker_command_serves_a_file(address, client):
    process = subprocess.Popen(
        [sys.executable, "-m", "batchd", "worker",
         str(EXAMPLES / "cross_language_worker.py") + ":worker"],
        env=python_env(address), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_until(lambda: any(e.name == "embed" and e.workers >= 1
                                      for e in client.executors()), 30), process.stderr
        summary = client.process([batchd.BatchTask("x", {"text": "abc"})], executor="embed")
        assert summary.successful_count == 1
        assert len(summary.results[0].result["vector"]) == 4
    finally:
        process.terminate()
        returncode = process.wait(15)
    # SIGTERM closes the worker's stream cleanly.
    assert returncode == 0, process.stderr.read()
    assert wait_until(lambda: all(not (e.name == "embed" and e.workers)
                                  for e in client.executors()), 15)
