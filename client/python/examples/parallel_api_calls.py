"""Parallel API calls: fan out HTTP requests with per-call timeouts and retries.

A small local HTTP server stands in for the API (150 ms per call; one endpoint answers 503
once). The calls run in this process's thread pool; batchd bounds their concurrency, times
them out and retries the failed one on its own timer.
"""

import json
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from batchd import BatchProcessor, BatchTask

CALL_MS = 150
_failed_once = set()


class FakeApi(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's naming
        time.sleep(CALL_MS / 1000)
        if self.path.endswith("/flaky") and self.path not in _failed_once:
            _failed_once.add(self.path)
            self.send_error(503, "try again")
            return
        body = json.dumps({"path": self.path, "ok": True}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def make_api_call(endpoint):
    with urllib.request.urlopen(endpoint, timeout=5) as response:
        return json.load(response)


def api_executor(task):
    # task_data is a zero-argument callable bound to its endpoint.
    return task["task_data"]()


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    endpoints = [f"{base}/users/{i}" for i in range(8)] + [f"{base}/flaky"]

    processor = BatchProcessor(max_concurrent=10, retry_policy="fixed", retry_delay_ms=100)
    # Make parallel API calls with rate limiting. (endpoint=endpoint binds each lambda to its
    # own endpoint; a bare `lambda: make_api_call(endpoint)` would see only the last one.)
    api_calls = [
        BatchTask(
            task_id=f"call_{i}",
            task_data=lambda endpoint=endpoint: make_api_call(endpoint),
            priority=1.0,
            timeout_ms=5000,
        )
        for i, endpoint in enumerate(endpoints)
    ]
    start = time.monotonic()
    summary = processor.process_batch(api_calls, api_executor)
    elapsed_ms = (time.monotonic() - start) * 1000
    for result in summary.results:
        print(f"  {result.task_id}: {result.result} (retries: {result.retry_count})")
    print(f"{len(endpoints)} calls in {elapsed_ms:.0f} ms "
          f"(sequential: at least {len(endpoints) * CALL_MS} ms); "
          f"retried: {summary.retried_count}")
    assert summary.successful_count == len(endpoints)
    assert summary.retried_count == 1
    server.shutdown()
    processor.close()


if __name__ == "__main__":
    main()
