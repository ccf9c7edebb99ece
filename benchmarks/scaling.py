"""`python -m benchmarks.scaling`: how each cost grows from 10k to 100k to 1M participants.

For each size N, in a scratch database: N consented participants, the demo poll launched
to all of them (a fresh process, timed, peak memory), then Heard's own work per message
with N people and N open sessions in the tables, measured in this process through the
Flask test client (no server and no load generator, so neither hides the shape):

- an SMS answer: a signed Twilio webhook from a phone the poll went to;
- a USSD hop: menu, poll, two answers, from other phones of the same launch;
- the outbox: the time to claim a batch of due messages among N queued ones.

Phones are spread evenly over the population, so lookups land all over the indexes.
Prints one JSON object with the figures per size and their ratios between sizes: flat
(about 1x) is what indexes should give per message, linear what a launch must cost.
"""

from __future__ import annotations

import argparse
import itertools
import time

from benchmarks import _harness as h
from benchmarks import _population as population
from benchmarks.inbound_twilio import conversations
from benchmarks.ussd_hops import POLL_ANSWERS as USSD_ANSWERS
from benchmarks.ussd_hops import sessions


def measure(db_kind: str, size: int, answers: int, hops: int) -> dict[str, object]:
    from heard.app import create_app
    from heard.config import Settings

    with h.scratch_database(db_kind) as url:
        env = h.server_env(url, 80)
        h.migrate_and_seed(env)
        prepared = population.launched_population(url, size)
        sms_phones = answers // len(population.ANSWERS)
        ussd_phones = hops // len(USSD_ANSWERS)
        spread = max(size // (sms_phones + ussd_phones), 1)
        (sms,) = conversations(
            sms_phones,
            answers,
            env,
            1,
            texts=population.ANSWERS,
            number=lambda i: population.phone(i * spread),
        )
        (ussd,) = sessions(
            ussd_phones,
            hops,
            env,
            1,
            inputs=USSD_ANSWERS,
            number=lambda i: population.phone((sms_phones + i) * spread),
        )
        app = create_app(Settings.from_env(env))
        try:
            app.test_client().get("/health")
            sms_result = h.replay_in_process(app, sms)
            ussd_result = h.replay_in_process(app, ussd)
            claim_ms = _claim_ms(app)
        finally:
            app.extensions["heard"].db.dispose()
    return {
        "participants": size,
        **prepared,
        "sms_answer": sms_result,
        "ussd_hop": ussd_result,
        "outbox_claim_ms_per_100": claim_ms,
    }


def _claim_ms(app) -> float:
    """How long claiming the next 100 due messages takes among everything queued: what
    every outbox worker does in a loop (rolled back here: nothing is sent)."""
    from datetime import UTC, datetime

    from sms_gateway.outbox import _claim_due

    db = app.extensions["heard"].db
    now = datetime.now(UTC).replace(tzinfo=None)
    timings = []
    for _ in range(20):
        with db.sessions() as session:
            start = time.perf_counter()
            found = _claim_due(session, now, 100, skip_locked=not db.is_sqlite)
            timings.append(time.perf_counter() - start)
            session.rollback()
    assert found, "the launch queued messages"
    return round(sorted(timings)[len(timings) // 2] * 1000, 2)


def shape(ratio_of_cost: float, ratio_of_size: float) -> str:
    if ratio_of_cost < 1.5:
        return "flat"
    if ratio_of_cost <= ratio_of_size * 1.5:
        return "linear" if ratio_of_cost >= ratio_of_size / 2 else "sublinear"
    return "worse than linear"


def growth(results: list[dict[str, object]]) -> list[dict[str, object]]:
    figures = {
        "launch_seconds": lambda r: r["launch_seconds"],
        "launch_db_cpu_seconds": lambda r: r["launch_db_cpu_seconds"],
        "launch_peak_rss_mb": lambda r: r["launch_peak_rss_mb"],
        "sms_answer_cpu_ms": lambda r: r["sms_answer"]["cpu_ms_per_request"],
        "ussd_hop_cpu_ms": lambda r: r["ussd_hop"]["cpu_ms_per_request"],
        "outbox_claim_ms": lambda r: r["outbox_claim_ms_per_100"],
    }
    out = []
    for before, after in itertools.pairwise(results):
        size_ratio = after["participants"] / before["participants"]
        step: dict[str, object] = {
            "from": before["participants"],
            "to": after["participants"],
        }
        for name, read in figures.items():
            if read(after) is None or read(before) is None:
                continue  # SQLite: no database server process to measure
            ratio = read(after) / max(read(before), 1e-9)
            step[name] = {"ratio": round(ratio, 2), "shape": shape(ratio, size_ratio)}
        out.append(step)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="postgres")
    parser.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated")
    parser.add_argument("--answers", type=int, default=2000, help="SMS answers per size")
    parser.add_argument("--hops", type=int, default=1000, help="USSD hops per size")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",")]
    results = [measure(args.db, size, args.answers, args.hops) for size in sizes]
    h.emit(
        {
            "benchmark": "scaling",
            "db": args.db,
            "sizes": results,
            "growth": growth(results),
            **h.machine(),
        }
    )


if __name__ == "__main__":
    main()
