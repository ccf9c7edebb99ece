"""`python -m benchmarks.profile_inbound`: where one signed Twilio webhook spends its time.

Runs the inbound_twilio conversation in one process through the Flask test client (no
gunicorn, no sockets) under pyinstrument, so the profile shows only Heard's own work:
the webhook, the engine, NLU and the database. Prints the text profile to stderr and one
JSON object (requests, ms per request) to stdout; `--html FILE` also saves the report.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qsl

from benchmarks import _harness as h
from benchmarks.inbound_twilio import CONVERSATION, conversations


def _count_statements(engine) -> list[int]:
    """Count SQL statements: on a loopback PostgreSQL each is a network round trip."""
    import sqlalchemy as sa

    counter = [0]

    def count(*_args) -> None:
        counter[0] += 1

    sa.event.listen(engine, "before_cursor_execute", count)
    return counter


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="postgres")
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--html", default=None)
    parser.add_argument("--no-profile", action="store_true", help="time and count only")
    args = parser.parse_args(argv)

    from pyinstrument import Profiler

    from heard.app import create_app
    from heard.config import Settings

    with h.scratch_database(args.db) as url:
        env = h.server_env(url, 80)
        h.migrate_and_seed(env)
        app = create_app(Settings.from_env(env))
        client = app.test_client()
        phones = -(-args.requests // len(CONVERSATION))
        # One lane: each phone's turns in order, one after another.
        (requests,) = conversations(phones, args.requests, env, 1)
        client.get("/health")
        statements = _count_statements(app.extensions["heard"].db.engine)
        profiler = Profiler(interval=0.001)
        start, cpu = time.perf_counter(), time.process_time()
        with profiler if not args.no_profile else _nothing():
            for item in requests:
                form = dict(parse_qsl(item.body.decode()))
                answer = client.post(item.path, data=form, headers=item.headers)
                assert answer.status_code == 200, answer.get_data(as_text=True)
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu
        app.extensions["heard"].db.dispose()
    if not args.no_profile:
        print(profiler.output_text(unicode=True, show_all=False), file=sys.stderr)
    if args.html and not args.no_profile:
        with open(args.html, "w", encoding="utf-8") as handle:
            handle.write(profiler.output_html())
    h.emit(
        {
            "benchmark": "profile_inbound",
            "db": args.db,
            "requests": len(requests),
            "ms_per_request": round(elapsed * 1000 / len(requests), 2),
            # CPU time is what a loaded, shared machine distorts least.
            "cpu_ms_per_request": round(cpu * 1000 / len(requests), 2),
            "sql_statements_per_request": round(statements[0] / len(requests), 1),
            "profiled": not args.no_profile,
        }
    )


if __name__ == "__main__":
    main()
