"""A local OpenAI-compatible chat-completions API for the examples' tests.

``OpenAIServer`` serves ``POST /v1/chat/completions`` on 127.0.0.1 (a free port) with the
shape of OpenAI's answer::

    {"id": "chatcmpl-1", "object": "chat.completion", "created": ..., "model": ...,
     "choices": [{"index": 0, "message": {"role": "assistant", "content": "..."},
                  "finish_reason": "stop"}],
     "usage": {"prompt_tokens": P, "completion_tokens": C, "total_tokens": P + C}}

It enforces a rate as a real API does: more than `requests_per_second` accepted requests in
any one-second window and the request is answered ``429 Too Many Requests`` with
``Retry-After`` (whole seconds) and OpenAI's error body. The answer is deterministic: the
content is ``"echo: <last user message>"``; tokens are counted as words (whitespace-separated)
of the messages' contents and of the answer. Each answer also carries the total in the
`units_header` response header (default ``x-usage-total-tokens``), the header a batchd limit's
``units_header`` reads.

Everything the tests assert on is counted under a lock: requests, answered, refused (429),
the prompts answered (a Counter), the tokens reported, the Authorization headers seen, and the
largest number of requests answered 200 in any one-second window.
"""

import collections
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Deque, Dict, List, Optional, Tuple


class OpenAIServer:
    """The fake API; a context manager (``with OpenAIServer(4) as api: api.base_url``).

    Args:
        requests_per_second: Requests answered 200 in any one-second window; beyond it, 429.
        retry_after_s: The ``Retry-After`` of a 429, in seconds.
        latency_s: How long each answer takes (a model's latency, kept small).
        units_header: Response header reporting the answer's total tokens ("" for none).
    """

    def __init__(self, requests_per_second: int = 4, *, retry_after_s: int = 1,
                 latency_s: float = 0.05, units_header: str = "x-usage-total-tokens") -> None:
        self.requests_per_second = requests_per_second
        self.retry_after_s = retry_after_s
        self.latency_s = latency_s
        self.units_header = units_header
        self._lock = threading.Lock()
        self._accepted_at: Deque[float] = collections.deque()  # last second's 200s
        self.requests = 0
        self.answered = 0
        self.refused = 0
        self.prompts: "collections.Counter[str]" = collections.Counter()
        self.total_tokens = 0
        self.authorizations: List[str] = []
        self.most_in_a_second = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread: Optional[threading.Thread] = None

    @property
    def base_url(self) -> str:
        """The API base, as $OPENAI_BASE_URL takes it: ``http://127.0.0.1:PORT/v1``."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> "OpenAIServer":
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> "OpenAIServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- what one request gets ----------------------------------------------------------------

    def _admit(self) -> bool:
        """Whether a request may be answered now (and counts it); False: 429."""
        now = time.monotonic()
        with self._lock:
            self.requests += 1
            while self._accepted_at and now - self._accepted_at[0] >= 1.0:
                self._accepted_at.popleft()
            if len(self._accepted_at) >= self.requests_per_second:
                self.refused += 1
                return False
            self._accepted_at.append(now)
            self.most_in_a_second = max(self.most_in_a_second, len(self._accepted_at))
            return True

    def _complete(self, request: Dict[str, Any]) -> Tuple[Dict[str, Any], int]:
        messages = request.get("messages") or []
        prompt = next((str(m.get("content", "")) for m in reversed(messages)
                       if m.get("role") == "user"), "")
        content = f"echo: {prompt}"
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in messages)
        completion_tokens = len(content.split())
        total = prompt_tokens + completion_tokens
        with self._lock:
            self.answered += 1
            self.prompts[prompt] += 1
            self.total_tokens += total
            number = self.answered
        return {
            "id": f"chatcmpl-{number}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.get("model", "test-model"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": total},
        }, total

    def _handler(self) -> type:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as batchd's http executor uses it

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(404, {"error": {"message": f"no route {self.path}",
                                               "type": "invalid_request_error"}})
                    return
                try:
                    request = json.loads(raw or b"{}")
                except ValueError:
                    self._send(400, {"error": {"message": "body is not JSON",
                                               "type": "invalid_request_error"}})
                    return
                with api._lock:
                    api.authorizations.append(self.headers.get("Authorization", ""))
                if not api._admit():
                    self._send(429, {"error": {
                        "message": "Rate limit reached for requests", "type": "requests",
                        "code": "rate_limit_exceeded"}},
                        {"Retry-After": str(api.retry_after_s)})
                    return
                time.sleep(api.latency_s)
                answer, total = api._complete(request)
                headers = {api.units_header: str(total)} if api.units_header else {}
                self._send(200, answer, headers)

            def _send(self, status: int, body: Dict[str, Any],
                      headers: Optional[Dict[str, str]] = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler
