"""`python -m benchmarks.outbox_drain`: outbox messages/s through the real SDK, 1 and 3 workers.

A launch queues N first questions (the real `bot.outreach.launch` path, Africa's Talking
channel), then P worker processes drain them with `Outbox.drain_once` through the official
`africastalking` SDK against tests/fakes' FakeAfricasTalking on 127.0.0.1, which checks
every request. Identical texts go out in AT bulk calls.

Two things are pinned so the figure measures the sender, not the calendar: the workers'
clock is set to midday in Nairobi tomorrow (outside quiet hours, after any deferral the
launch wrote), and the per-channel token bucket is lifted (`--rate-limit`, default off),
because the production default (DEFAULT_RATES in sms_gateway/outbox.py) caps Africa's
Talking at 50 messages/s per worker process by design.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from benchmarks import _harness as h
from benchmarks.launch import seed_participants

AT_USER = "heard-bench"
AT_KEY = "fake-at-api-key"


def _queue(url: str) -> int:
    from bot.outreach import create_launch, launch
    from storage import models as m
    from storage.db import Database

    db = Database(url)
    with db.session() as session:
        organisation_id, version_id = session.execute(
            sa.select(m.Poll.organisation_id, m.PollVersion.id)
            .join(m.PollVersion, m.PollVersion.poll_id == m.Poll.id)
            .where(m.Poll.key == "water-point")
        ).one()
        now = datetime.now(UTC).replace(tzinfo=None)
        row = create_launch(session, organisation_id, version_id, {}, now=now)
        report = launch(session, row.id, now)
    db.dispose()
    return report.started


def _channel_rate(url: str, rate: float | None) -> None:
    """A channel row's own rate wins over the defaults; the demo channel has one."""
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE channels SET rate_per_second = :rate"), {"rate": rate or 1e6}
        )
    engine.dispose()


def _worker(env: dict[str, str], rate: float | None, batch: int, go, results: mp.Queue) -> None:
    from bot.clock import FakeClock
    from heard.config import Settings
    from heard.services import Services
    from sms_gateway.outbox import Outbox

    midday = datetime.now(UTC).replace(tzinfo=None, hour=9, minute=0) + timedelta(days=1)
    clock = FakeClock(midday)
    services = Services.build(Settings.from_env(env), clock=clock)
    rates = {"africastalking": rate or 1e9, "twilio": rate or 1e9}
    outbox = Outbox(services.db, services.settings, clock, rates=rates)
    go.wait()
    sent = 0
    while True:
        report = outbox.drain_once(batch)
        if not report.claimed:
            break
        sent += report.sent
        clock.advance(timedelta(milliseconds=10))  # let a configured bucket refill
    services.db.dispose()
    results.put({"sent": sent, "done": time.time()})


def run_once(args: argparse.Namespace, workers: int) -> dict[str, object]:
    from tests.fakes.fake_africastalking import FakeAfricasTalking

    with h.scratch_database(args.db) as url, FakeAfricasTalking(AT_USER, AT_KEY) as fake:
        env = h.server_env(
            url, 80, AT_USERNAME=AT_USER, AT_API_KEY=AT_KEY, HEARD_AT_API_BASE=fake.url
        )
        env.pop("TWILIO_ACCOUNT_SID")
        env.pop("TWILIO_AUTH_TOKEN")
        env.pop("TWILIO_FROM")
        h.migrate_and_seed(env)
        seed_participants(url, args.messages, provider="africastalking")
        queued = _queue(url)
        _channel_rate(url, args.rate_limit)
        context = mp.get_context("fork")
        go, results = context.Event(), context.Queue()
        processes = [
            context.Process(target=_worker, args=(env, args.rate_limit, args.batch, go, results))
            for _ in range(workers)
        ]
        for process in processes:
            process.start()
        time.sleep(3)  # imports and pools ready before the clock starts
        start = time.time()
        go.set()
        reports = [results.get(timeout=900) for _ in processes]
        for process in processes:
            process.join()
        elapsed = max(report["done"] for report in reports) - start
        engine = sa.create_engine(url)
        with engine.connect() as connection:
            statuses = dict(
                connection.exec_driver_sql(
                    "SELECT status, count(*) FROM outbound_messages GROUP BY status"
                ).all()
            )
        engine.dispose()
        received = len(fake.messages)
        rejected = len(fake.rejections)
    return {
        "benchmark": "outbox_drain",
        "db": args.db,
        "workers": workers,
        "queued": queued,
        "sent": sum(report["sent"] for report in reports),
        "fake_received": received,
        "fake_rejections": rejected,
        "statuses": statuses,
        "seconds": round(elapsed, 2),
        "messages_per_s": round(received / elapsed, 1),
        "batch": args.batch,
        **h.machine(),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="postgres")
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--workers", default="1,3", help="comma-separated process counts")
    parser.add_argument("--batch", type=int, default=500, help="rows claimed per drain")
    parser.add_argument("--rate-limit", type=float, default=None, help="msgs/s per bucket")
    args = parser.parse_args(argv)
    for workers in (int(n) for n in args.workers.split(",")):
        h.emit(run_once(args, workers))


if __name__ == "__main__":
    main()
