"""A launched poll waiting for answers: the state a national poll is in on launch day.

The onboarding conversation (JOIN, consent, profile) happens once per person; what then
floods in, for hours, is answers to a poll just launched to everyone. This seeds N
consented participants, launches the demo poll to all of them through the product's own
`create_launch` + `launch`, and lists each phone's answers (`1` for "works: yes", then
the minutes queued), so a benchmark can replay them.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from benchmarks.launch import seed_participants

# "Is the water point working?" → 1 (Yes); "How many minutes did you queue?" → 15.
ANSWERS = ["1", "15"]
FIRST_PHONE = 40000000  # seed_participants numbers phones +2547 40000000 + i


def phone(index: int) -> str:
    return f"+2547{FIRST_PHONE + index:08d}"


def launched_population(url: str, participants: int) -> dict[str, float]:
    """Seed `participants` consented people and launch the demo poll to all of them.

    The launch runs in a fresh spawned process, as the scheduler would run it, so its
    peak resident memory is the launch's own (plus the interpreter and imports).
    """
    import multiprocessing as mp
    import time

    start = time.perf_counter()
    seed_participants(url, participants)
    seeded = time.perf_counter() - start
    context = mp.get_context("spawn")
    results: mp.Queue = context.Queue()
    child = context.Process(target=_launch_everyone, args=(url, results))
    child.start()
    launched = results.get(timeout=3600)
    child.join()
    return {"seed_seconds": round(seeded, 2), **launched}


def _launch_everyone(url: str, results) -> None:
    import resource
    import time

    from bot.outreach import create_launch, launch
    from storage import models as m
    from storage.db import Database

    db = Database(url)
    try:
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
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.exec_driver_sql("ANALYZE")  # what autovacuum does after a bulk load
    finally:
        db.dispose()
    results.put(
        {
            "launch_seconds": round(elapsed, 2),
            "launch_peak_rss_mb": round(
                resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
            ),
            "launch_started": report.started,
        }
    )
