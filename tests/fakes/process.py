"""Run a fake provider server in a process of its own (benchmarks).

A fake in the measuring process shares that process's GIL with whatever else runs there,
and on a small machine its CPU is counted against the code being measured. In its own
process it still checks every request exactly as in-process (it is the same class); what
the caller gets back when it stops is a summary of what it saw, plus the CPU it used.

    with FakeInProcess(FakeAfricasTalking, "user", "key") as fake:
        ... point the SDK at fake.url ...
    fake.summary["accepted"], fake.summary["rejections"], fake.summary["cpu_seconds"]
"""

from __future__ import annotations

import multiprocessing as mp
import resource
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from tests.fakes._http import FakeServer


def _serve(factory: Callable[..., FakeServer], args: tuple, kwargs: dict, pipe: Connection) -> None:
    fake = factory(*args, **kwargs)
    fake.start()
    pipe.send(fake.url)
    pipe.recv()  # "stop"
    fake.stop()
    counts = fake.send_counts
    usage = resource.getrusage(resource.RUSAGE_SELF)
    pipe.send(
        {
            "accepted": sum(counts.values()),
            "numbers": len(counts),
            "sent_twice": sum(1 for n in counts.values() if n > 1),
            "requests": len(fake.requests),
            "rejections": [f"{r.method} {r.path}: {r.reason}" for r in fake.rejections[:20]],
            "rejection_count": len(fake.rejections),
            "cpu_seconds": usage.ru_utime + usage.ru_stime,
        }
    )
    pipe.close()


class FakeInProcess:
    """A FakeServer subclass started in a forked process; `summary` is filled on exit."""

    def __init__(self, factory: Callable[..., FakeServer], *args: Any, **kwargs: Any) -> None:
        self._context = mp.get_context("fork")
        self._pipe, child = self._context.Pipe()
        self._process = self._context.Process(
            target=_serve, args=(factory, args, kwargs, child), daemon=True
        )
        self.url = ""
        self.summary: dict[str, Any] = {}

    def __enter__(self) -> FakeInProcess:
        self._process.start()
        if not self._pipe.poll(30):
            self._process.kill()
            raise RuntimeError("fake server process did not start")
        self.url = self._pipe.recv()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> dict[str, Any]:
        if self._process.is_alive() and not self.summary:
            self._pipe.send("stop")
            if self._pipe.poll(60):
                self.summary = self._pipe.recv()
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.kill()
        return self.summary
