"""Fixtures for the HTTP API tests: the real batchd with --http-listen on a free loopback port.

$BATCHD_BINARY is the daemon (ctest sets it). Every wait is bounded.
"""

import json
import os
import subprocess
import tempfile
import threading
from typing import Dict, Iterator, List, Optional, Tuple

import pytest

START_TIMEOUT_S = 30.0


class Daemon:
    """A batchd child process: `grpc` and `http` are its host:port addresses."""

    def __init__(self, flags: List[str], workdir: str) -> None:
        binary = os.environ.get("BATCHD_BINARY", "")
        if not binary or not os.access(binary, os.X_OK):
            pytest.fail(f"set BATCHD_BINARY to the batchd executable (got {binary!r})")
        self._log_path = os.path.join(workdir, "batchd.log")
        self._log = open(self._log_path, "wb")
        self.process = subprocess.Popen(
            [binary, "--listen=127.0.0.1:0", "--http-listen=127.0.0.1:0",
             f"--data-dir={os.path.join(workdir, 'data')}", *flags],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._log,
            start_new_session=True)
        self.grpc, self.http = self._wait_for_addresses()
        self.base = f"http://{self.http}"

    def _wait_for_addresses(self) -> Tuple[str, str]:
        found: Dict[str, str] = {}
        done = threading.Event()

        def read() -> None:
            assert self.process.stdout is not None
            for raw in self.process.stdout:
                line = raw.decode(errors="replace").strip()
                if line.startswith("batchd listening on "):
                    found["grpc"] = line[len("batchd listening on "):]
                elif line.startswith("batchd http listening on http://"):
                    found["http"] = line[len("batchd http listening on http://"):]
                    done.set()
            done.set()

        threading.Thread(target=read, daemon=True).start()
        if not done.wait(START_TIMEOUT_S) or "http" not in found:
            self.stop()
            raise RuntimeError(f"batchd did not print its addresses; stderr:\n{self.log()}")
        return found["grpc"], found["http"]

    def log(self) -> str:
        with open(self._log_path, "rb") as f:
            return f.read().decode(errors="replace")[-20000:]

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._log.close()
        return self.process.returncode


class Curl:
    """Runs curl the way the README's one-liners do; returns (status, headers, body)."""

    def __init__(self, base: str, token: Optional[str] = None) -> None:
        self.base = base
        self.token = token

    def __call__(self, method: str, path: str, body: Optional[object] = None,
                 headers: Optional[Dict[str, str]] = None, raw: Optional[bytes] = None,
                 timeout: float = 60) -> Tuple[int, Dict[str, str], bytes]:
        args = ["curl", "-sS", "-X", method, "-D", "-", "--max-time", str(timeout)]
        if body is not None:
            args += ["--json", json.dumps(body)]
        if raw is not None:
            args += ["--data-binary", "@-"]
        for name, value in (headers or {}).items():
            args += ["-H", f"{name}: {value}"]
        if self.token is not None:
            args += ["-H", f"Authorization: Bearer {self.token}"]
        args.append(self.base + path)
        done = subprocess.run(args, input=raw, capture_output=True, timeout=timeout + 10)
        assert done.returncode == 0, done.stderr.decode()
        head, _, content = done.stdout.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        status = int(lines[0].split()[1])
        found = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            found[name.strip().lower()] = value.strip()
        return status, found, content

    def json(self, method: str, path: str, body: Optional[object] = None,
             expect: int = 200, **kwargs) -> dict:
        status, headers, content = self(method, path, body, **kwargs)
        assert status == expect, (status, content)
        assert headers["content-type"].startswith("application/json"), headers
        return json.loads(content)


@pytest.fixture
def workdir() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="batchd-http-") as d:
        yield d


@pytest.fixture
def start_daemon(workdir: str):
    started: List[Daemon] = []

    def start(*flags: str) -> Daemon:
        daemon = Daemon(list(flags), tempfile.mkdtemp(dir=workdir))
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.stop()


@pytest.fixture
def daemon(start_daemon) -> Daemon:
    return start_daemon()


@pytest.fixture
def curl(daemon: Daemon) -> Curl:
    return Curl(daemon.base)
