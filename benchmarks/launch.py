"""`python -m benchmarks.launch`: time and memory to launch a poll to N participants.

For each N: a scratch database with the demo organisation and N consented participants
(bulk inserted, not timed; on PostgreSQL then ANALYZEd, as autovacuum would have done in
production, which also records the still-empty sessions and outbox tables as empty), then
a *fresh child process* runs `create_launch` + `launch` and commits. Its wall time ends
when every first message is in the outbox; its peak resident memory (ru_maxrss) includes
the interpreter and imports, as the scheduler's would. On PostgreSQL on this machine it
also reports `db_cpu_seconds`, the CPU time the launch's database backend spent (from
/proc): on a shared machine that is steadier than wall time. Timing and memory at two
sizes give the growth shape (10x people should cost ~10x time and roughly constant
memory, since launches page through ids in chunks). The child then pauses the launch
(every first message held, each with its status event) and resumes it, timing each as
`pause_seconds` and `resume_seconds`. `--repeat` runs each size that many
times (a fresh database each) and reports every run plus the medians.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import secrets
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

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
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("ANALYZE")
    engine.dispose()


def _backend_cpu(session) -> tuple[int | None, float | None]:
    """(pid, CPU seconds so far) of the PostgreSQL backend serving `session`, when the
    server runs on this machine and /proc shows it; (None, None) otherwise."""
    if session.get_bind().dialect.name != "postgresql":
        return None, None
    pid = session.scalar(sa.text("SELECT pg_backend_pid()"))
    return pid, _cpu_of(pid)


def _cpu_of(pid: int | None) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _launch_child(url: str, results: mp.Queue) -> None:
    from bot.outreach import create_launch, launch, pause_launch, resume_launch
    from storage import models as m
    from storage.db import Database

    db = Database(url)
    with db.session() as session:
        pid, cpu_before = _backend_cpu(session)  # before the clock: not part of a launch
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
    cpu_after = _cpu_of(pid)
    db_cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    with db.session() as session:
        if pid is not None and session.scalar(sa.text("SELECT pg_backend_pid()")) != pid:
            db_cpu = None  # not the backend measured: the pool handed out another one
        queued = session.scalar(
            sa.select(sa.func.count())
            .select_from(m.OutboundMessage)
            .where(m.OutboundMessage.launch_id == report.launch_id)
        )
    # The coordinator's emergency brake, and letting go of it, on the launch just made.
    brake: dict[str, object] = {}
    for name, change in (("pause", pause_launch), ("resume", resume_launch)):
        start = time.perf_counter()
        with db.session() as session:
            brake[f"{name}_moved"] = change(session, report.launch_id, now)
        brake[f"{name}_seconds"] = round(time.perf_counter() - start, 2)
    db.dispose()
    results.put(
        {
            "seconds": round(elapsed, 2),
            "db_cpu_seconds": None if db_cpu is None else round(db_cpu, 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "audience": report.audience,
            "started": report.started,
            "messages_queued": queued,
            **brake,
        }
    )


def launch_in_fresh_process(url: str) -> dict[str, object]:
    """Launch the demo poll to everyone from a spawned process, as the scheduler would:
    no memory inherited from this one, so its peak RSS is the launch's own."""
    context = mp.get_context("spawn")
    results: mp.Queue = context.Queue()
    child = context.Process(target=_launch_child, args=(url, results))
    child.start()
    result = results.get(timeout=3600)
    child.join()
    return result


def run_once(db_kind: str, participants: int) -> dict[str, object]:
    with h.scratch_database(db_kind) as url:
        env = h.server_env(url, 80)
        h.migrate_and_seed(env)
        seed_start = time.perf_counter()
        seed_participants(url, participants)
        seeded = time.perf_counter() - seed_start
        result = launch_in_fresh_process(url)
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
    parser.add_argument("--repeat", type=int, default=1, help="runs per size (medians kept)")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.participants.split(",")]
    runs = {size: [run_once(args.db, size) for _ in range(args.repeat)] for size in sizes}
    results = [_median(size_runs) for size_runs in runs.values()]
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
    report = {"benchmark": "launch", "db": args.db, "sizes": results, "growth": growth}
    if args.repeat > 1:
        report["runs"] = [run for size_runs in runs.values() for run in size_runs]
    h.emit(report)


def _median(runs: list[dict[str, object]]) -> dict[str, object]:
    """The first run's fields, with the timing and memory figures replaced by medians."""
    merged = dict(runs[0])
    timed = ("seed_seconds", "seconds", "db_cpu_seconds", "peak_rss_mb")
    for key in (*timed, "pause_seconds", "resume_seconds"):
        values = [run[key] for run in runs if run.get(key) is not None]
        merged[key] = round(statistics.median(values), 2) if values else None
    merged["runs"] = len(runs)
    return merged


if __name__ == "__main__":
    main()
