"""The real batchd with its HTTP listener, for the Python suites that drive it over HTTP
(tests/integration/http_api, tests/browser) and the page benchmark (bench/dashboard_page.py).

HttpDaemon starts `binary` on free loopback ports (--listen and --http-listen port 0, a data
directory of its own), reads the two addresses it announces on stdout (text or JSON log
format), and stops it, bounded, with stop(). Every wait is bounded.
"""

import json
import os
import subprocess
import threading
from typing import Dict, List, Mapping, Optional, Tuple

START_TIMEOUT_S = 30.0
GRPC_PREFIX = "batchd listening on "
HTTP_PREFIX = "batchd http listening on http://"


def _address(line: str) -> Optional[Tuple[str, str]]:
    """("grpc" or "http", host:port) from one announcement line, either form."""
    if line.startswith(GRPC_PREFIX):
        return "grpc", line[len(GRPC_PREFIX):]
    if line.startswith(HTTP_PREFIX):
        return "http", line[len(HTTP_PREFIX):]
    if line.startswith("{"):
        try:
            record = json.loads(line)
        except ValueError:
            return None
        if record.get("listener") in ("grpc", "http") and record.get("address"):
            return record["listener"], record["address"]
    return None


class HttpDaemon:
    """A batchd child process: `grpc` and `http` are its host:port, `base` its http:// URL."""

    def __init__(self, binary: str, flags: List[str], workdir: str,
                 env: Optional[Mapping[str, str]] = None) -> None:
        self._log_path = os.path.join(workdir, "batchd.log")
        self._log = open(self._log_path, "wb")
        self.process = subprocess.Popen(
            [binary, "--listen=127.0.0.1:0", "--http-listen=127.0.0.1:0",
             f"--data-dir={os.path.join(workdir, 'data')}", *flags],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._log,
            env=dict(env) if env is not None else None, start_new_session=True)
        self.grpc, self.http = self._wait_for_addresses()
        self.base = f"http://{self.http}"

    def _wait_for_addresses(self) -> Tuple[str, str]:
        found: Dict[str, str] = {}
        done = threading.Event()

        def read() -> None:
            assert self.process.stdout is not None
            for raw in self.process.stdout:
                announced = _address(raw.decode(errors="replace").strip())
                if announced is not None:
                    found.setdefault(*announced)
                    if "grpc" in found and "http" in found:
                        done.set()
            done.set()

        threading.Thread(target=read, daemon=True).start()
        if not done.wait(START_TIMEOUT_S) or "http" not in found or "grpc" not in found:
            self.stop()
            raise RuntimeError(f"batchd did not announce its addresses within "
                               f"{START_TIMEOUT_S:.0f} s (got {found}); stderr:\n{self.log()}")
        return found["grpc"], found["http"]

    def log(self) -> str:
        try:
            with open(self._log_path, "rb") as f:
                return f.read().decode(errors="replace")[-20000:]
        except OSError:
            return ""

    def stop(self) -> int:
        """SIGTERM, then SIGKILL after 20 s; the exit code."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if not self._log.closed:
            self._log.close()
        return self.process.returncode
