"""`heard serve`: gunicorn in front of `create_app()`."""

from __future__ import annotations

from gunicorn.app.base import BaseApplication

from heard.config import Settings


class _Gunicorn(BaseApplication):
    def __init__(self, settings: Settings, options: dict):
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from heard.app import create_app

        return create_app(self.settings)


def run_gunicorn(
    settings: Settings,
    *,
    host: str,
    port: int,
    workers: int,
    threads: int = 1,
    access_log: bool = True,
) -> None:
    """Each worker builds its own app (and database pool) after the fork: a pool shared
    across a fork hands the same socket to two processes.

    One thread per process by default: a webhook is CPU-bound Python, so threads mostly
    contend for the GIL; on 2 cores, 4 processes × 1 thread answered 150 SMS/s with p99
    12 ms where 4 × 4 threads had 38 ms (docs/benchmarks.md). More threads pay off only
    when each request waits long on a remote database.

    The access log is optional because it is not free: gunicorn formats and writes a line
    per request, ~1 ms of CPU per webhook in benchmarks/inbound_twilio (a quarter of the
    request), which the reverse proxy's log makes redundant (docs/deploy.md).
    """
    _Gunicorn(
        settings,
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "worker_class": "gthread",
            "threads": threads,
            "timeout": 30,
            "accesslog": "-" if access_log else None,
            "preload_app": False,
        },
    ).run()
