"""`python -m benchmarks.profile_inbound`: where one signed Twilio webhook spends its time.

Runs the inbound_twilio conversation in one process through the Flask test client (no
gunicorn, no sockets) under pyinstrument, so the profile shows only Heard's own work:
the webhook, the engine, NLU and the database. Prints the text profile to stderr and one
JSON object (requests, ms per request) to stdout; `--html FILE` also saves the report.
"""

from __future__ import annotations

import argparse
import sys

from benchmarks import _harness as h
from benchmarks.inbound_twilio import scenario_requests


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="postgres")
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument(
        "--scenario", choices=["onboarding", "answers", "status"], default="onboarding"
    )
    parser.add_argument("--participants", type=int, default=0, help="answers: poll audience")
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
        # One lane: each phone's turns in order, one after another.
        args.rate = 0
        (requests,), _warm, prepared = scenario_requests(args, url, env, 1)
        app.test_client().get("/health")
        profiler = Profiler(interval=0.001) if not args.no_profile else None
        measured = h.replay_in_process(app, requests, around=profiler)
        app.extensions["heard"].db.dispose()
    if profiler is not None:
        print(profiler.output_text(unicode=True, show_all=False), file=sys.stderr)
        if args.html:
            with open(args.html, "w", encoding="utf-8") as handle:
                handle.write(profiler.output_html())
    h.emit(
        {
            "benchmark": "profile_inbound",
            "db": args.db,
            "scenario": args.scenario,
            **prepared,
            **measured,
            "profiled": profiler is not None,
        }
    )


if __name__ == "__main__":
    main()
