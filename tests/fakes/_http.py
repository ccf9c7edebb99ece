"""The shared machinery of the fake provider APIs: a real HTTP server on 127.0.0.1.

The official SDKs do the sending in Heard, so the fakes must be real servers the SDKs can
talk to, checking each request the way the provider would. A request that fails a check
is answered with the provider's error and recorded in `rejections`, which a test asserts
stays empty: an unexpected request fails the test instead of passing silently.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    form: dict[str, list[str]] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        """HTTP header names are case-insensitive; clients differ in how they spell them."""
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None

    def first(self, name: str) -> str | None:
        values = self.form.get(name)
        return values[0] if values else None


@dataclass(frozen=True)
class Rejection:
    method: str
    path: str
    reason: str


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str = "application/json"


@dataclass
class _ScriptedFailure:
    remaining: int
    status: int
    code: int | None


class FakeServer:
    """Start/stop, request log, rejections and scripted failures; subclasses answer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sent = threading.Condition(self._lock)
        self._requests: list[RecordedRequest] = []
        self._rejections: list[Rejection] = []
        self._counts: Counter[str] = Counter()
        self._failures: list[_ScriptedFailure] = []
        self._stall_remaining = 0
        self._stall_seconds = 0.0
        self._stopping = threading.Event()
        self.fail_numbers: dict[str, int] = {}
        # Tests that send bad requests on purpose set this, so fixtures don't fail them.
        self.expect_rejections = False
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("fake server not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Keep-alive without Nagle: otherwise each reply waits ~40 ms for the client's
            # delayed ACK, and the fake, not Heard, sets the pace of a drain.
            disable_nagle_algorithm = True

            def do_GET(self) -> None:
                fake._handle(self)

            def do_POST(self) -> None:
                fake._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep pytest output clean; requests are in fake.requests

        self._stopping.clear()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wake stalled handlers so shutdown does not wait on them
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what tests read ----------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def rejections(self) -> list[Rejection]:
        with self._lock:
            return list(self._rejections)

    def sends_to(self, number: str) -> int:
        """How many times a message was accepted for `number`."""
        with self._lock:
            return self._counts[number]

    @property
    def send_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    # --- scripting ------------------------------------------------------------------------

    def fail_next(self, n: int = 1, *, status: int = 500, code: int | None = None) -> None:
        """Answer the next `n` send requests with an HTTP error (and provider error code)."""
        with self._lock:
            self._failures.append(_ScriptedFailure(n, status, code))

    def stall_next(self, n: int = 1, *, seconds: float = 5.0) -> None:
        """Hold the next `n` send requests for `seconds` before answering (client timeouts)."""
        with self._lock:
            self._stall_remaining = n
            self._stall_seconds = seconds

    def _take_failure(self) -> _ScriptedFailure | None:
        with self._lock:
            while self._failures and self._failures[0].remaining <= 0:
                self._failures.pop(0)
            if not self._failures:
                return None
            failure = self._failures[0]
            failure.remaining -= 1
            return failure

    def _take_stall(self) -> float:
        with self._lock:
            if self._stall_remaining <= 0:
                return 0.0
            self._stall_remaining -= 1
            return self._stall_seconds

    def stall_if_scripted(self) -> None:
        seconds = self._take_stall()
        if seconds:
            self._stopping.wait(seconds)

    def reject(self, request: RecordedRequest, reason: str) -> None:
        with self._lock:
            self._rejections.append(Rejection(request.method, request.path, reason))

    def count_send(self, number: str) -> None:
        with self._sent:
            self._counts[number] += 1
            self._sent.notify_all()

    def wait_for_sends(self, total: int, *, timeout: float = 5.0) -> bool:
        """Block until `total` sends were accepted (a stalled request finishes late)."""
        with self._sent:
            return self._sent.wait_for(lambda: self._counts.total() >= total, timeout)

    # --- plumbing -------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        parts = urlsplit(handler.path)
        content_type = handler.headers.get("Content-Type", "")
        form = (
            parse_qs(body.decode("utf-8"), keep_blank_values=True)
            if content_type.startswith("application/x-www-form-urlencoded")
            else {}
        )
        request = RecordedRequest(
            method=handler.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers=dict(handler.headers.items()),
            body=body,
            form=form,
        )
        with self._lock:
            self._requests.append(request)
        answer = self.answer(request)
        try:
            handler.send_response(answer.status)
            handler.send_header("Content-Type", answer.content_type)
            handler.send_header("Content-Length", str(len(answer.body)))
            handler.end_headers()
            handler.wfile.write(answer.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # a stalled answer whose client already timed out and hung up

    def answer(self, request: RecordedRequest) -> Answer:
        raise NotImplementedError
