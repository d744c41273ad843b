"""Fixtures for the Python client's tests: the real batchd daemon on a free loopback port.

The daemon binary comes from $BATCHD_BINARY (ctest sets it). Every wait is bounded.
"""

import json
import os
import subprocess
import sys
import threading
import time
from typing import Iterator, List, Optional

import pytest

LISTENING_PREFIX = "batchd listening on "
START_TIMEOUT_S = 30.0
# Short worker intervals make heartbeat or cancel-ack mistakes show up within a test.
DAEMON_FLAGS = ["--worker-heartbeat-interval=1s", "--worker-cancel-grace=2s"]


def _listening_address(line: str) -> Optional[str]:
    """The gRPC address a stdout line announces, as text or (--log-format=json) as JSON."""
    if line.startswith(LISTENING_PREFIX):
        return line[len(LISTENING_PREFIX):]
    if line.startswith("{"):
        try:
            record = json.loads(line)
        except ValueError:
            return None
        if isinstance(record, dict) and record.get("listener") == "grpc":
            address = record.get("address")
            return address if isinstance(address, str) else None
    return None


class Daemon:
    """A batchd child process: `address` is its host:port; `log()` its stderr so far."""

    def __init__(self, binary: str, flags: List[str], log_path: str) -> None:
        self._log_path = log_path
        self._log = open(log_path, "wb")
        if not any(f.startswith(("--data-dir", "--durability")) for f in flags):
            # Each daemon journals into its own directory next to its log.
            flags = [f"--data-dir={os.path.splitext(log_path)[0]}-data", *flags]
        self.process = subprocess.Popen(
            [binary, "--listen=127.0.0.1:0", *flags],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._log,
            start_new_session=True)
        self.address = self._wait_for_address()

    def _wait_for_address(self) -> str:
        found: List[str] = []
        done = threading.Event()

        def read() -> None:
            assert self.process.stdout is not None
            for raw in self.process.stdout:
                line = raw.decode(errors="replace").strip()
                address = _listening_address(line)
                if address is not None and not found:
                    found.append(address)
                    done.set()
            done.set()

        threading.Thread(target=read, daemon=True).start()
        if not done.wait(START_TIMEOUT_S) or not found:
            self.stop()
            raise RuntimeError(f"batchd did not print its address within {START_TIMEOUT_S}s; "
                               f"stderr:\n{self.log()}")
        return found[0]

    def log(self) -> str:
        try:
            with open(self._log_path, "rb") as f:
                return f.read().decode(errors="replace")[-20000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._log.close()


def batchd_binary() -> str:
    binary = os.environ.get("BATCHD_BINARY", "")
    if not binary or not os.access(binary, os.X_OK):
        pytest.fail(f"set BATCHD_BINARY to the batchd executable (got {binary!r})")
    return binary


@pytest.fixture(scope="session")
def daemon(tmp_path_factory) -> Iterator[Daemon]:
    log_path = str(tmp_path_factory.mktemp("batchd") / "batchd.log")
    process = Daemon(batchd_binary(), DAEMON_FLAGS, log_path)
    yield process
    process.stop()


@pytest.fixture
def address(daemon: Daemon, monkeypatch) -> str:
    """The daemon's address, also exported as $BATCHD_ADDR (the default target)."""
    monkeypatch.setenv("BATCHD_ADDR", daemon.address)
    return daemon.address


@pytest.fixture
def processor_factory(address: str):
    """Makes BatchProcessors on the test daemon, closed after the test."""
    import batchd

    made: List[batchd.BatchProcessor] = []

    def make(*args, **kwargs) -> "batchd.BatchProcessor":
        kwargs.setdefault("target", address)
        processor = batchd.BatchProcessor(*args, **kwargs)
        made.append(processor)
        return processor

    yield make
    for processor in made:
        processor.close()


@pytest.fixture
def client(address: str):
    import batchd

    with batchd.Client(address, timeout=30.0) as c:
        yield c


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """On a failure, append the end of the daemon's log to the report."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and "daemon" in getattr(item, "fixturenames", ()):
        daemon_fixture: Optional[Daemon] = item.funcargs.get("daemon")
        if daemon_fixture is not None:
            report.sections.append(("batchd log (tail)", daemon_fixture.log()[-4000:]))


def wait_until(predicate, timeout: float = 20.0, interval: float = 0.01) -> bool:
    """Polls `predicate` until true (True) or `timeout` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def python_env(address: str) -> dict:
    """Environment for child Python processes using the package against the test daemon."""
    env = dict(os.environ)
    env["BATCHD_ADDR"] = address
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.setdefault("PYTHONPATH", os.pathsep.join(sys.path))
    return env


ASYNC_TEST_TIMEOUT_S = 60.0


def run_async(main):
    """Runs the coroutine function `main` on a fresh event loop, bounded by
    ASYNC_TEST_TIMEOUT_S: async tests are plain functions (no pytest plugin needed)."""
    import asyncio

    async def bounded():
        return await asyncio.wait_for(main(), ASYNC_TEST_TIMEOUT_S)

    return asyncio.run(bounded())
