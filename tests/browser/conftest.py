"""Fixtures for the dashboard's browser tests: the real batchd daemon with its HTTP listener
(JSON API + the page) on free loopback ports, and headless Chromium driven by Selenium.

The daemon binary comes from $BATCHD_BINARY (ctest sets it). Without chromium, chromedriver or
Debian's python3-selenium the whole run exits 77, which ctest reports as skipped. Every wait is
bounded; screenshots go to $BATCHD_ARTIFACTS_DIR (ctest: the build tree) or a temp dir.
"""

import json
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
from typing import Any, Dict, Iterator, List, Optional

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "testing"))
from http_daemon import HttpDaemon  # noqa: E402

WAIT_S = 30.0
CHROMEDRIVER = "/usr/bin/chromedriver"
SKIP_RETURN_CODE = 77  # the CMake test's SKIP_RETURN_CODE


def _missing_prerequisite() -> Optional[str]:
    if not (shutil.which("chromium") or os.access("/usr/bin/chromium", os.X_OK)):
        return "chromium is not installed (apt-get install chromium)"
    if not os.access(CHROMEDRIVER, os.X_OK):
        return f"{CHROMEDRIVER} is missing (apt-get install chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not importable (apt-get install python3-selenium)"
    return None


def pytest_configure(config) -> None:
    why = _missing_prerequisite()
    if why:
        pytest.exit(f"browser tests skipped: {why}", returncode=SKIP_RETURN_CODE)


def _daemon_environment() -> Dict[str, str]:
    """This run's environment without its own BATCHD_* variables, which the daemon would read as
    flags (and warn about)."""
    return {k: v for k, v in os.environ.items() if k not in ("BATCHD_BINARY", "BATCHD_ARTIFACTS_DIR")}


class ApiError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


class Api:
    """The daemon's JSON API over urllib (what the page calls, without the page)."""

    def __init__(self, base_url: str, token: str = "") -> None:
        self.base_url = base_url
        self.token = token

    def call(self, method: str, path: str, body: Any = None, token: Optional[str] = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        token = self.token if token is None else token
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=WAIT_S) as answer:
                return json.loads(answer.read() or b"{}")
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = raw.decode(errors="replace")
            raise ApiError(e.code, parsed) from None

    def submit(self, tasks: List[dict], **fields: Any) -> str:
        return self.call("POST", "/v1/batches", {"tasks": tasks, **fields})["batchId"]

    def tasks(self, batch_id: str) -> Dict[str, dict]:
        answer = self.call("GET", f"/v1/batches/{batch_id}/tasks?pageSize=10000")
        return {t["taskId"]: t for t in answer["tasks"]}

    def progress(self, batch_id: str) -> dict:
        return self.call("GET", f"/v1/batches/{batch_id}/progress")["progress"]


def batchd_binary() -> str:
    binary = os.environ.get("BATCHD_BINARY", "")
    if not binary or not os.access(binary, os.X_OK):
        pytest.fail(f"set BATCHD_BINARY to the batchd executable (got {binary!r})")
    return binary


def _start_daemon(tmp_path_factory, name: str, flags: List[str]) -> HttpDaemon:
    return HttpDaemon(batchd_binary(), flags, str(tmp_path_factory.mktemp(name)),
                      env=_daemon_environment())


@pytest.fixture(scope="session")
def daemon(tmp_path_factory) -> Iterator[HttpDaemon]:
    limits = tmp_path_factory.mktemp("limits") / "limits.json"
    limits.write_text(json.dumps({"limits": [
        {"key": "browser-api", "max_in_flight": 3,
         "rates": [{"units": 600, "per": "1m", "measure": "requests"}]}]}))
    process = _start_daemon(tmp_path_factory, "batchd", [f"--limits-file={limits}"])
    yield process
    process.stop()


@pytest.fixture(scope="session")
def api(daemon: HttpDaemon) -> Api:
    return Api(daemon.base)


# The shell executor (off by default) for the task panel's live output; a small partial-output
# buffer so that a task's early output is dropped and the panel must say so.
SHELL_OUTPUT_KEPT = 2048


@pytest.fixture(scope="session")
def shell_daemon(tmp_path_factory) -> Iterator[HttpDaemon]:
    process = _start_daemon(tmp_path_factory, "batchd-shell",
                            ["--enable-shell", f"--max-task-output-bytes={SHELL_OUTPUT_KEPT}"])
    yield process
    process.stop()


TOKEN = "browser-test-token-7f3a"


@pytest.fixture(scope="session")
def token_daemon(tmp_path_factory) -> Iterator[HttpDaemon]:
    token_file = tmp_path_factory.mktemp("token") / "token"
    token_file.write_text(TOKEN + "\n")
    os.chmod(token_file, 0o600)
    process = _start_daemon(tmp_path_factory, "batchd-token", [f"--auth-token-file={token_file}"])
    yield process
    process.stop()


@pytest.fixture(scope="session")
def artifacts_dir() -> str:
    path = os.environ.get("BATCHD_ARTIFACTS_DIR") or tempfile.mkdtemp(prefix="batchd-browser-")
    os.makedirs(path, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def _chromium() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1000", "--force-device-scale-factor=1"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(WAIT_S)
    driver.set_script_timeout(WAIT_S)
    yield driver
    driver.quit()


@pytest.fixture
def browser(_chromium, artifacts_dir, request) -> Iterator[Any]:
    """The shared Chromium, on a blank page; a screenshot of the page is saved after each test."""
    _chromium.get("about:blank")
    yield _chromium
    name = request.node.name.replace("/", "_")
    try:
        _chromium.save_screenshot(os.path.join(artifacts_dir, f"{name}.png"))
    except Exception:  # the screenshot is a convenience; the test's own outcome stands
        pass


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """On a failure, append the end of the daemons' logs and the page's console to the report."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    for name in ("daemon", "token_daemon", "shell_daemon"):
        process = item.funcargs.get(name)
        if isinstance(process, HttpDaemon):
            report.sections.append((f"{name} log (tail)", process.log()[-4000:]))
    driver = item.funcargs.get("browser")
    if driver is not None:
        try:
            logs = driver.get_log("browser")
            report.sections.append(("browser console", "\n".join(str(x) for x in logs[-40:])))
        except Exception:
            pass
