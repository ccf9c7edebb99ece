"""Shared fixtures for the NLU tests: a stand-in for Heard's Settings and a fake Rasa."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


@dataclass
class StandInSettings:
    rasa_url: str | None = None
    rasa_home: Path = Path("/nonexistent")


@dataclass
class StandInObj:
    settings: StandInSettings = field(default_factory=StandInSettings)


@dataclass
class FakeRasa:
    """A tiny HTTP double of Rasa's /model/parse whose behaviour a test sets."""

    url: str
    mode: str = "ok"  # ok | error | garbled | slow
    intent: str = "affirm"
    confidence: float = 0.9
    delay: float = 1.0
    calls: int = 0


@pytest.fixture
def fake_rasa() -> Iterator[FakeRasa]:
    state = FakeRasa(url="")
    release = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            state.calls += 1
            if state.mode == "slow":
                release.wait(state.delay)
            if state.mode == "error":
                self.send_response(500)
                self.end_headers()
                return
            payload = (
                b"{not json"
                if state.mode == "garbled"
                else json.dumps(
                    {
                        "text": body.get("text"),
                        "intent": {"name": state.intent, "confidence": state.confidence},
                        "entities": [],
                    }
                ).encode()
            )
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def obj(tmp_path: Path) -> StandInObj:
    return StandInObj(StandInSettings(rasa_url=None, rasa_home=tmp_path))
