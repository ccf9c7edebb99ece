"""A launched poll waiting for answers: the state a national poll is in on launch day.

The onboarding conversation (JOIN, consent, profile) happens once per person; what then
floods in, for hours, is answers to a poll just launched to everyone. This seeds N
consented participants, launches the demo poll to all of them through the product's own
`create_launch` + `launch`, and lists each phone's answers (`1` for "works: yes", then
the minutes queued), so a benchmark can replay them.
"""

from __future__ import annotations

import sqlalchemy as sa

from benchmarks.launch import launch_in_fresh_process, seed_participants

# "Is the water point working?" → 1 (Yes); "How many minutes did you queue?" → 15.
ANSWERS = ["1", "15"]
FIRST_PHONE = 40000000  # seed_participants numbers phones +2547 40000000 + i


def phone(index: int) -> str:
    return f"+2547{FIRST_PHONE + index:08d}"


def launched_population(url: str, participants: int) -> dict[str, object]:
    """Seed `participants` consented people and launch the demo poll to all of them (in a
    fresh process, timed: benchmarks/launch.py)."""
    import time

    start = time.perf_counter()
    seed_participants(url, participants)
    seeded = time.perf_counter() - start
    launched = launch_in_fresh_process(url)
    if url.startswith("postgresql"):
        engine = sa.create_engine(url)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("ANALYZE")  # what autovacuum does after a bulk load
        engine.dispose()
    return {
        "seed_seconds": round(seeded, 2),
        "launch_seconds": launched["seconds"],
        "launch_db_cpu_seconds": launched["db_cpu_seconds"],
        "launch_peak_rss_mb": launched["peak_rss_mb"],
        "launch_started": launched["started"],
    }
