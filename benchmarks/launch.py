"""`python -m benchmarks.launch`: time and memory to launch a poll to N participants.

For each N: a scratch database with the demo organisation and N consented participants
(bulk inserted, not timed), then a *fresh child process* runs `create_launch` + `launch`
and commits. Its wall time ends when every first message is in the outbox; its peak
resident memory (ru_maxrss) includes the interpreter and imports, as the scheduler's
would. Timing and memory at two sizes give the growth shape (10x people should cost
~10x time and roughly constant memory, since launches page through ids in chunks).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import secrets
import time
from datetime import UTC, datetime

import sqlalchemy as sa

from benchmarks import _harness as h

BATCH = 10_000


def seed_participants(url: str, count: int, *, provider: str = "twilio") -> None:
    """N active, consented participants in one organisation, in big multi-row inserts."""
    from storage import models as m

    engine = sa.create_engine(url)
    now = datetime.now(UTC).replace(tzinfo=None)
    with engine.begin() as connection:
        organisation = connection.execute(
            sa.select(m.Organisation.id, m.Organisation.consent_version)
        ).one()
        table = m.Participant.__table__
        for start in range(0, count, BATCH):
            rows = [
                {
                    "organisation_id": organisation.id,
                    "phone": f"+2547{40000000 + i:08d}",
                    "pseudonym": "p_" + secrets.token_hex(8),
                    "language": "sw" if i % 3 == 0 else "en",
                    "timezone": "Africa/Nairobi",
                    "channel": "sms",
                    "provider": provider,
                    "status": "active",
                    "consent_version": organisation.consent_version,
                    "consented_at": now,
                    "village": "Ngiluni",
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(start, min(start + BATCH, count))
            ]
            connection.execute(sa.insert(table), rows)
    engine.dispose()


def _launch_child(url: str, results: mp.Queue) -> None:
    from bot.outreach import create_launch, launch
    from storage import models as m
    from storage.db import Database

    db = Database(url)
    start = time.perf_counter()
    with db.session() as session:
        organisation_id, version_id = session.execute(
            sa.select(m.Poll.organisation_id, m.PollVersion.id)
            .join(m.PollVersion, m.PollVersion.poll_id == m.Poll.id)
            .where(m.Poll.key == "water-point")
        ).one()
        now = datetime.now(UTC).replace(tzinfo=None)
        row = create_launch(session, organisation_id, version_id, {}, now=now)
        report = launch(session, row.id, now)
    elapsed = time.perf_counter() - start
    with db.session() as session:
        queued = session.scalar(
            sa.select(sa.func.count())
            .select_from(m.OutboundMessage)
            .where(m.OutboundMessage.launch_id == report.launch_id)
        )
    db.dispose()
    results.put(
        {
            "seconds": round(elapsed, 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "audience": report.audience,
            "started": report.started,
            "messages_queued": queued,
        }
    )


def run_once(db_kind: str, participants: int) -> dict[str, object]:
    with h.scratch_database(db_kind) as url:
        env = h.server_env(url, 80)
        h.migrate_and_seed(env)
        seed_start = time.perf_counter()
        seed_participants(url, participants)
        seeded = time.perf_counter() - seed_start
        context = mp.get_context("spawn")  # no memory inherited from this process
        results: mp.Queue = context.Queue()
        child = context.Process(target=_launch_child, args=(url, results))
        child.start()
        result = results.get(timeout=1800)
        child.join()
    return {
        "benchmark": "launch",
        "db": db_kind,
        "participants": participants,
        "seed_seconds": round(seeded, 2),
        **result,
        **h.machine(),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="postgres")
    parser.add_argument("--participants", default="10000,100000", help="comma-separated sizes")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.participants.split(",")]
    results = [run_once(args.db, size) for size in sizes]
    if len(results) > 1:
        first, last = results[0], results[-1]
        scale = last["participants"] / first["participants"]
        growth = {
            "size_ratio": scale,
            "time_ratio": round(last["seconds"] / max(first["seconds"], 1e-9), 2),
            "memory_ratio": round(last["peak_rss_mb"] / first["peak_rss_mb"], 2),
        }
    else:
        growth = {}
    h.emit({"benchmark": "launch", "db": args.db, "sizes": results, "growth": growth})


if __name__ == "__main__":
    main()
