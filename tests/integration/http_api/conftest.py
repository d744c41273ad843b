"""Fixtures for the HTTP API tests: the real batchd with --http-listen on a free loopback port.

$BATCHD_BINARY is the daemon (ctest sets it). Every wait is bounded.
"""

import json
import os
import subprocess
import sys
import tempfile
from typing import Dict, Iterator, List, Optional, Tuple

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "testing"))
from http_daemon import HttpDaemon  # noqa: E402


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
        out = done.stdout
        while out.startswith(b"HTTP/1.1 100"):  # the interim answer to Expect: 100-continue
            out = out.partition(b"\r\n\r\n")[2]
        head, _, content = out.partition(b"\r\n\r\n")
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
    started: List[HttpDaemon] = []

    def start(*flags: str) -> HttpDaemon:
        binary = os.environ.get("BATCHD_BINARY", "")
        if not binary or not os.access(binary, os.X_OK):
            pytest.fail(f"set BATCHD_BINARY to the batchd executable (got {binary!r})")
        daemon = HttpDaemon(binary, list(flags), tempfile.mkdtemp(dir=workdir))
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.stop()


@pytest.fixture
def daemon(start_daemon) -> HttpDaemon:
    return start_daemon()


@pytest.fixture
def curl(daemon: HttpDaemon) -> Curl:
    return Curl(daemon.base)
