#!/usr/bin/python3
"""The web dashboard's batch page with a 10,000-task batch, in headless Chromium against the real
daemon: how long until the graph and the task table first render, and how long a state change in
the daemon takes to show on the page. Figures on stdout (JSON, then a table).

  bench/dashboard_page.py [--batchd build/release/server/batchd] [--layers 100] [--width 100]
                          [--sleep-ms 50] [--max-concurrent 20] [--loads 3] [--changes 5]
                          [--screenshot bench/results/dashboard.png]

first render   navigation start (a fresh document load) to the page's first render of graph +
               table (window.batchdDashboard.firstRenderAt, performance.now() at that point),
               while the batch runs; median of --loads loads. Also the render's own time
               (lastRenderMs) and the JS heap after it.
live update    CancelTask of a pending task of the last layer through the JSON API, from just
               before the call to the moment the page applied the new state
               (batchdDashboard.stateSeenAt[id], same clock); median and max of --changes.
               The page learns final states from the results stream.
task start     a task's start (its startedAt in the daemon) to the page showing it RUNNING, which
               only the once-a-second ListTasks poll tells: a chain of five probe sleeps of
               1.5 s behind an external gate task that the benchmark completes once the page
               is loaded (so the batch has 10,006 tasks), so each start is seen.
update render  lastRenderMs of the page's once-a-second refreshes while the batch runs.

With --screenshot it also opens a smaller, realistic pipeline batch (fetch -> parse -> aggregate,
a flaky task, an external review) mid-run and saves the page to that file.
Needs chromium, chromium-driver and python3-selenium (deploy/install-deps.sh). Starts its own
batchd on loopback (port 0, --durability=none) and stops it.
"""
import argparse
import datetime
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "browser"))
sys.path.insert(0, os.path.join(REPO, "tests", "testing"))
from dashboard_ui import DashboardPage  # noqa: E402
from http_daemon import HttpDaemon  # noqa: E402


class Daemon(HttpDaemon):
    """The daemon under test with the JSON calls the benchmark makes."""

    def __init__(self, binary, workdir):
        super().__init__(binary, ["--durability=none"], workdir,
                         env={k: v for k, v in os.environ.items() if k != "BATCHD_BINARY"})
        self.base_url = self.base

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as answer:
            return json.loads(answer.read() or b"{}")

    def cancel_if_running(self, batch_id, reason):
        try:
            self.call("POST", f"/v1/batches/{batch_id}:cancel", {"reason": reason})
        except urllib.error.HTTPError as e:
            if e.code != 400:  # FAILED_PRECONDITION: it already finished
                raise


def chromium(width=1400, height=1000):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={width},{height}", "--force-device-scale-factor=1"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


# A chain of PROBES sleep tasks of PROBE_MS after an external gate: long enough that the page
# sees each one run.
PROBES = 5
PROBE_MS = 1500


def rfc3339_ms(text):
    """Milliseconds since the epoch of an RFC 3339 timestamp (any fraction digits, Z)."""
    m = re.fullmatch(r"(.{19})(?:\.(\d+))?Z", text)
    if not m:
        return None
    whole = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    return whole.timestamp() * 1000 + (float(f"0.{m.group(2)}") * 1000 if m.group(2) else 0)


def all_tasks(daemon, batch_id):
    tasks, token = [], ""
    while True:
        answer = daemon.call("GET", f"/v1/batches/{batch_id}/tasks?pageSize=10000"
                             + (f"&pageToken={urllib.parse.quote(token)}" if token else ""))
        tasks += answer["tasks"]
        token = answer["nextPageToken"]
        if not token:
            return tasks


def layered_batch(layers, width, sleep_ms):
    """Task (l, i) depends on (l-1, i) and (l-1, (i+1) % width): 2 edges per task."""
    tid = lambda l, i: f"l{l:03d}-t{i:03d}"  # noqa: E731
    return [{"id": tid(l, i), "executor": "sleep", "input": {"ms": sleep_ms},
             "dependencies": [tid(l - 1, i), tid(l - 1, (i + 1) % width)] if l else []}
            for l in range(layers) for i in range(width)]


def measure(args, daemon, driver):
    tasks = layered_batch(args.layers, args.width, args.sleep_ms)
    # The probes: an external gate, completed after the page loads, then a chain of sleeps.
    probes = [f"probe-{k}" for k in range(PROBES)]
    tasks.append({"id": "gate", "executor": "external", "input": {"gate": "probes"}})
    tasks += [{"id": p, "executor": "sleep", "input": {"ms": PROBE_MS},
               "dependencies": [probes[k - 1] if k else "gate"]} for k, p in enumerate(probes)]
    batch_id = daemon.call("POST", "/v1/batches", {
        "tasks": tasks, "options": {"maxConcurrent": args.max_concurrent},
        "labels": {"bench": "dashboard_page"}})["batchId"]
    page = DashboardPage(driver, daemon.base_url, timeout=60)
    first, render, heap = [], [], []
    for _ in range(args.loads):
        page.open_batch(batch_id)
        hooks = page.wait_ready("batch")
        first.append(hooks["firstRenderAt"])
        render.append(hooks["lastRenderMs"])
        heap.append(driver.execute_script("return performance.memory ? performance.memory.usedJSHeapSize : 0;"))
        assert hooks["tasks"] == len(tasks), hooks["tasks"]
    rows = page.rendered_task_rows()
    loaded_at = driver.execute_script("return Date.now();")

    # Live updates: cancel pending tasks of the last layer one by one.
    latencies = []
    last_layer = [t["id"] for t in tasks if t["id"].startswith(f"l{args.layers - 1:03d}-")]
    for task_id in last_layer[:args.changes]:
        if page.hooks()["batchState"] not in ("BATCH_STATE_RUNNING", "BATCH_STATE_PENDING"):
            break
        t0 = time.time() * 1000
        daemon.call("POST", f"/v1/batches/{batch_id}/tasks/{task_id}:cancel", {"reason": "bench"})
        seen = page.wait(lambda d: d.execute_script(
            "const x = window.batchdDashboard.transitions.find("
            "  (t) => t.id === arguments[0] && t.state === 'TASK_STATE_CANCELLED');"
            "return x ? x.at : null;", task_id), f"{task_id} not shown cancelled")
        latencies.append(seen - t0)
    # Starts, which only the once-a-second ListTasks poll shows: the daemon's startedAt of each
    # probe (a task that runs PROBE_MS, so every start is seen) to the page showing it RUNNING.
    gate = next(a for a in daemon.call("GET", f"/v1/batches/{batch_id}/progress")["progress"]
                ["awaitingCompletion"] if a["taskId"] == "gate")
    daemon.call("POST", f"/v1/batches/{batch_id}/tasks/gate:complete", {"token": gate["token"], "output": "go"})

    def probes_seen(_):
        running = {x["id"] for x in page.hooks()["transitions"] if x["state"] == "TASK_STATE_RUNNING"}
        return all(p in running for p in probes)
    page.wait(probes_seen, "the page did not show every probe RUNNING", timeout=120)
    started = {t["taskId"]: rfc3339_ms(t["startedAt"]) for t in all_tasks(daemon, batch_id)
               if t["taskId"] in probes}
    start_latencies = [x["at"] - started[x["id"]] for x in page.hooks()["transitions"]
                       if x["state"] == "TASK_STATE_RUNNING" and x["id"] in probes and x["at"] > loaded_at]
    update_renders = []
    seen_updates = page.hooks()["updates"]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and len(update_renders) < 5:
        hooks = page.hooks()
        if hooks["updates"] != seen_updates:
            seen_updates = hooks["updates"]
            update_renders.append(hooks["lastRenderMs"])
        time.sleep(0.1)
    daemon.cancel_if_running(batch_id, "bench done")
    return {
        "tasks": len(tasks), "layers": args.layers, "edges": sum(len(t.get("dependencies", [])) for t in tasks),
        "first_render_ms": statistics.median(first), "first_render_ms_all": first,
        "render_ms": statistics.median(render), "js_heap_mb": round(statistics.median(heap) / 2**20, 1),
        "table_rows_in_dom": rows,
        "live_update_ms_median": statistics.median(latencies) if latencies else None,
        "live_update_ms_max": max(latencies) if latencies else None, "live_update_ms_all": latencies,
        "start_shown_ms_median": statistics.median(start_latencies) if start_latencies else None,
        "start_shown_ms_max": max(start_latencies) if start_latencies else None,
        "starts_measured": len(start_latencies),
        "update_render_ms_median": statistics.median(update_renders) if update_renders else None,
    }


def screenshot(daemon, path):
    rng = random.Random(7)
    tasks = [{"id": f"fetch-{i:02d}", "executor": "sleep", "input": {"ms": rng.randint(300, 4000)}}
             for i in range(48)]
    tasks += [{"id": f"parse-{i:02d}", "executor": "sleep", "input": {"ms": rng.randint(200, 1500)},
               "dependencies": [f"fetch-{i:02d}"]} for i in range(48)]
    tasks += [{"id": "parse-flaky", "executor": "fail", "input": {"error": "upstream 503", "succeed_on_attempt": 9},
               "dependencies": ["fetch-00"], "retryPolicy": {"kind": "RETRY_KIND_FIXED", "maxRetries": 2, "initialDelayMs": 300}}]
    tasks += [{"id": f"aggregate-{g}", "executor": "sleep", "input": {"ms": 800},
               "dependencies": [f"parse-{i:02d}" for i in range(g * 8, g * 8 + 8)]} for g in range(6)]
    tasks += [{"id": "review", "executor": "external", "input": {"report": "weekly"},
               "dependencies": ["aggregate-0"]},
              {"id": "publish", "executor": "echo", "input": {"$ref": "review"},
               "dependencies": ["review", *[f"aggregate-{g}" for g in range(6)]]}]
    batch_id = daemon.call("POST", "/v1/batches", {
        "tasks": tasks, "options": {"maxConcurrent": 16},
        "labels": {"team": "data", "pipeline": "weekly-report"}})["batchId"]
    driver = chromium(1400, 1500)
    try:
        page = DashboardPage(driver, daemon.base_url, timeout=60)
        page.open_batch(batch_id)
        page.wait_ready("batch")
        page.wait(lambda d: page.hooks()["counts"].get("TASK_STATE_SUCCEEDED", 0) >= 60
                  and page.driver.execute_script("return window.batchdDashboard.taskState('parse-flaky')")
                  == "TASK_STATE_FAILED", "pipeline too slow")
        # The table shows what is still to do: running tasks, their waiting reasons and actions.
        driver.execute_script("const s = document.getElementById('task-state-filter');"
                              "s.value = 'live'; s.dispatchEvent(new Event('change'));")
        time.sleep(0.3)  # let the page paint the filtered rows before the screenshot
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        driver.save_screenshot(path)
    finally:
        driver.quit()
        daemon.cancel_if_running(batch_id, "screenshot taken")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batchd", default=os.environ.get("BATCHD_BINARY") or
                        os.path.join(REPO, "build", "release", "server", "batchd"))
    parser.add_argument("--layers", type=int, default=100)
    parser.add_argument("--width", type=int, default=100)
    parser.add_argument("--sleep-ms", type=int, default=50)
    parser.add_argument("--max-concurrent", type=int, default=20)
    parser.add_argument("--loads", type=int, default=3)
    parser.add_argument("--changes", type=int, default=5)
    parser.add_argument("--screenshot", default="")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="batchd-dashboard-bench-") as workdir:
        daemon = Daemon(args.batchd, workdir)
        driver = chromium()
        try:
            figures = measure(args, daemon, driver)
            if args.screenshot:
                screenshot(daemon, args.screenshot)
                figures["screenshot"] = args.screenshot
        finally:
            driver.quit()
            daemon.stop()
    print(json.dumps(figures, indent=2))
    fmt = lambda v: "n/a" if v is None else f"{v:,.0f}"  # noqa: E731
    print(f"\n| {figures['tasks']:,} tasks, {figures['layers']} layers, {figures['edges']:,} edges | ms |")
    print("|---|---|")
    print(f"| first render of graph + table (navigation start to ready), median of {args.loads} | {fmt(figures['first_render_ms'])} |")
    print(f"| of which the render itself (graph + visible rows) | {fmt(figures['render_ms'])} |")
    print(f"| live update: CancelTask to the page showing CANCELLED (results stream), median (max) | {fmt(figures['live_update_ms_median'])} ({fmt(figures['live_update_ms_max'])}) |")
    print(f"| task start (daemon's startedAt) to the page showing RUNNING (ListTasks poll), median (max) of {figures['starts_measured']} | {fmt(figures['start_shown_ms_median'])} ({fmt(figures['start_shown_ms_max'])}) |")
    print(f"| render of a once-a-second refresh, median | {fmt(figures['update_render_ms_median'])} |")
    print(f"| table rows in the DOM | {figures['table_rows_in_dom']} |")
    print(f"| JS heap after load | {figures['js_heap_mb']} MB |")


if __name__ == "__main__":
    main()
