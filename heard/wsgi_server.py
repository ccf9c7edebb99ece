"""`heard serve`: gunicorn in front of `create_app()`."""

from __future__ import annotations

from gunicorn.app.base import BaseApplication

from heard.config import Settings

# Settings of newer gunicorns that an older one, still allowed by pyproject, lacks.
_IF_SUPPORTED = frozenset({"control_socket_disable"})


class _Gunicorn(BaseApplication):
    def __init__(self, settings: Settings, options: dict):
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            if key in _IF_SUPPORTED and key not in self.cfg.settings:
                continue
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
    _Gunicorn(settings, gunicorn_options(host, port, workers, threads, access_log)).run()


def gunicorn_options(host: str, port: int, workers: int, threads: int, access_log: bool) -> dict:
    """gunicorn's settings for `heard serve`.

    No control socket (gunicorn 25.1+): its default path is one per user, so a second
    `heard serve` of the same user (two organisations' units, a benchmark beside the
    service) would take it over and `gunicornc` would steer the wrong server. Heard is
    managed by its process supervisor (docs/deploy.md), which needs no socket.
    """
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "timeout": 30,
        "accesslog": "-" if access_log else None,
        "preload_app": False,
        "control_socket_disable": True,
    }
