"""`python -m benchmarks.outbox_drain`: outbox messages/s through the real SDK, 1 and 3 workers.

A launch queues N first questions (the real `bot.outreach.launch` path, Africa's Talking
channel), then P worker processes drain them with `Outbox.drain_once` through the official
`africastalking` SDK against tests/fakes' FakeAfricasTalking on 127.0.0.1, which checks
every request. Identical texts go out in AT bulk calls.

Two things are pinned so the figure measures the sender, not the calendar: the workers'
clock is set to midday in Nairobi tomorrow (outside quiet hours, after any deferral the
launch wrote), and the channel's send rate is lifted (`--rate-limit`, default off),
because the production rates (Channel.rate_per_second, DEFAULT_RATES in
sms_gateway/outbox.py) cap a channel by design, for all the workers together.

The fake runs in a process of its own by default (`--fake process`): in the benchmark
process it shared a GIL with nothing but still took CPU from the same 2 cores, unmeasured.
Besides throughput the JSON reports CPU per message of the workers (their own rusage), of
the fake, and of the whole machine (/proc/stat, so PostgreSQL is the rest), the DBAPI
calls and commits the workers made, and any number the fake accepted twice. `--runs N`
repeats each configuration and adds the medians; `--profile DIR` writes a pyinstrument
profile of each worker.

`--rate R` shows instead that the channel's rate is shared by all the workers (through the
database, sms_gateway/rate_limit.py): the channel is set to R messages/s, the workers run
on wall-clock time (shifted to the same midday) and keep draining until nothing is left,
and the JSON adds `messages_per_s_after_burst` (what was sent beyond the first second's
burst, over the whole run): about R, whatever the number of workers, where per-process
buckets made it workers × R. `python -m benchmarks.outbox_drain --messages 600
--workers 3 --rate 100`.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from benchmarks import _harness as h
from benchmarks.launch import seed_participants
from sms_gateway.africastalking import MAX_RECIPIENTS_PER_CALL

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


class _ShiftedClock:
    """Wall-clock time moved by a fixed offset: every worker of a `--rate` run shares the
    offset, so their clocks agree as a deployment's (NTP) do, at midday in Nairobi."""

    def __init__(self, offset: timedelta):
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC).replace(tzinfo=None) + self.offset


def _midday() -> datetime:
    """Tomorrow 09:00 UTC, noon in Nairobi: outside quiet hours, after any deferral."""
    return datetime.now(UTC).replace(tzinfo=None, hour=9, minute=0) + timedelta(days=1)


def _left(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return connection.exec_driver_sql(
            "SELECT count(*) FROM outbound_messages WHERE status IN ('queued', 'sending')"
        ).scalar_one()


def _worker(
    env: dict[str, str],
    rate: float | None,
    batch: int,
    go,
    results: mp.Queue,
    profile: str | None = None,
    at_recipients: int | None = None,
    wall_offset: timedelta | None = None,
) -> None:
    from bot.clock import FakeClock
    from heard.config import Settings
    from heard.services import Services
    from sms_gateway.outbox import Outbox
    from sms_gateway.providers import Providers

    clock = FakeClock(_midday()) if wall_offset is None else _ShiftedClock(wall_offset)
    services = Services.build(Settings.from_env(env), clock=clock)
    rates = {"africastalking": rate or 1e9, "twilio": rate or 1e9}
    providers = Providers(services.settings)
    if at_recipients:
        providers = Providers(services.settings, at_recipients_per_call=at_recipients)
    outbox = Outbox(services.db, services.settings, clock, rates=rates, providers=providers)
    calls = {"statements": 0, "commits": 0}

    def count_statement(*_: object) -> None:
        calls["statements"] += 1

    def count_commit(*_: object) -> None:
        calls["commits"] += 1

    sa.event.listen(services.db.engine, "before_cursor_execute", count_statement)
    sa.event.listen(services.db.engine, "commit", count_commit)
    backends: dict[int, float] = {}  # PostgreSQL backend pid -> its CPU seconds at go

    def remember_backend(dbapi_connection, _record) -> None:
        if services.db.is_sqlite:
            return
        cursor = dbapi_connection.cursor()
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
        cursor.close()
        backends[pid] = _process_cpu(pid)

    sa.event.listen(services.db.engine, "connect", remember_backend)
    with services.db.engine.connect() as connection:  # the pool's first connection, now
        connection.exec_driver_sql("SELECT 1")
    for pid in backends:
        backends[pid] = _process_cpu(pid)
    profiler = None
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005)
    go.wait()
    before = resource.getrusage(resource.RUSAGE_SELF)
    if profiler is not None:
        profiler.start()
    sent = 0
    while True:
        report = outbox.drain_once(batch)
        sent += report.sent
        if wall_offset is not None:  # --rate: throttled rows come due again in real time
            if not report.claimed:
                if not _left(services.db.engine):
                    break
                time.sleep(0.005)
            continue
        if not report.claimed:
            break
        clock.advance(timedelta(milliseconds=10))  # let a configured bucket refill
    done = time.time()
    after = resource.getrusage(resource.RUSAGE_SELF)
    database_cpu = sum(_process_cpu(pid) - at_go for pid, at_go in backends.items())
    if profiler is not None:
        profiler.stop()
        Path(profile, f"worker-{os.getpid()}.txt").write_text(
            profiler.output_text(unicode=True, show_all=False)
        )
        Path(profile, f"worker-{os.getpid()}.html").write_text(profiler.output_html())
    services.db.dispose()
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    results.put({"sent": sent, "done": done, "cpu": cpu, "database_cpu": database_cpu, **calls})


def _process_cpu(pid: int) -> float:
    """utime + stime of a process on this machine (a PostgreSQL backend), in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    fields = [float(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])
    return (total - idle) / tick, total / tick


def run_once(args: argparse.Namespace, workers: int) -> dict[str, object]:
    from tests.fakes.fake_africastalking import FakeAfricasTalking
    from tests.fakes.process import FakeInProcess

    if args.fake == "process":
        fake_server = FakeInProcess(FakeAfricasTalking, AT_USER, AT_KEY)
    else:
        fake_server = FakeAfricasTalking(AT_USER, AT_KEY)
    with h.scratch_database(args.db) as url, fake_server as fake:
        env = h.server_env(
            url, 80, AT_USERNAME=AT_USER, AT_API_KEY=AT_KEY, HEARD_AT_API_BASE=fake.url
        )
        env.pop("TWILIO_ACCOUNT_SID")
        env.pop("TWILIO_AUTH_TOKEN")
        env.pop("TWILIO_FROM")
        h.migrate_and_seed(env)
        seed_participants(url, args.messages, provider="africastalking")
        queued = _queue(url)
        _channel_rate(url, args.rate or args.rate_limit)
        wall_offset = (
            None if args.rate is None else _midday() - datetime.now(UTC).replace(tzinfo=None)
        )
        if args.db == "postgres":
            _analyze(url)
        context = mp.get_context("fork")
        go, results = context.Event(), context.Queue()
        processes = [
            context.Process(
                target=_worker,
                args=(
                    env,
                    args.rate or args.rate_limit,
                    args.batch,
                    go,
                    results,
                    args.profile,
                    args.at_recipients,
                    wall_offset,
                ),
            )
            for _ in range(workers)
        ]
        for process in processes:
            process.start()
        time.sleep(3)  # imports and pools ready before the clock starts
        fake_cpu_before = None if args.fake == "process" else time.process_time()
        busy_before, total_before = _machine_busy()
        start = time.time()
        go.set()
        reports = [results.get(timeout=900) for _ in processes]
        busy_after, total_after = _machine_busy()
        fake_cpu = None if fake_cpu_before is None else time.process_time() - fake_cpu_before
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
            events = connection.exec_driver_sql(
                "SELECT count(*) FROM message_status_events"
            ).scalar_one()
        engine.dispose()
        if args.fake == "thread":
            counts = fake.send_counts
            received = sum(counts.values())
            twice = sum(1 for n in counts.values() if n > 1)
            rejected = len(fake.rejections)
            requests = len(fake.requests)
    if args.fake == "process":
        summary = fake.summary
        received, twice = summary["accepted"], summary["sent_twice"]
        rejected, requests = summary["rejection_count"], summary["requests"]
        fake_cpu = summary["cpu_seconds"]  # its whole life: start-up is a few ms
    worker_cpu = sum(report["cpu"] for report in reports)
    per_message = 1000 / max(received, 1)
    shared_rate = {}
    if args.rate is not None:
        burst = max(args.rate, 1.0)
        shared_rate = {
            "rate": args.rate,
            "messages_per_s_after_burst": round((received - burst) / elapsed, 1),
            "per_process_limits_would_allow": workers * args.rate,
            "sent_per_worker": sorted(report["sent"] for report in reports),
        }
    return {
        "benchmark": "outbox_drain",
        "db": args.db,
        "workers": workers,
        "queued": queued,
        "sent": sum(report["sent"] for report in reports),
        "fake_received": received,
        "fake_sent_twice": twice,
        "fake_rejections": rejected,
        "fake_requests": requests,
        "statuses": statuses,
        "status_events": events,
        "seconds": round(elapsed, 3),
        "messages_per_s": round(received / elapsed, 1),
        "worker_cpu_ms_per_message": round(worker_cpu * per_message, 4),
        "database_cpu_ms_per_message": round(
            sum(report["database_cpu"] for report in reports) * per_message, 4
        ),
        "fake_cpu_ms_per_message": round((fake_cpu or 0.0) * per_message, 4),
        "machine_cpu_ms_per_message": round((busy_after - busy_before) * per_message, 4),
        "machine_cpu_busy_fraction": round(
            (busy_after - busy_before) / max(total_after - total_before, 1e-9), 3
        ),
        "worker_statements": sum(report["statements"] for report in reports),
        "worker_commits": sum(report["commits"] for report in reports),
        "batch": args.batch,
        "at_recipients_per_call": args.at_recipients or MAX_RECIPIENTS_PER_CALL,
        "fake": args.fake,
        **shared_rate,
        **h.machine(),
    }


def _analyze(url: str) -> None:
    """Fresh statistics, as autovacuum would have after a launch of this size."""
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql("ANALYZE")
    engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="postgres")
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--workers", default="1,3", help="comma-separated process counts")
    parser.add_argument("--batch", type=int, default=500, help="rows claimed per drain")
    parser.add_argument(
        "--rate-limit",
        type=float,
        default=None,
        help="msgs/s of the channel, on each worker's fake clock (10 ms per drain)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="msgs/s of the channel on wall-clock time: shows the workers share it",
    )
    parser.add_argument("--runs", type=int, default=1, help="repeat; report each and medians")
    parser.add_argument(
        "--fake",
        choices=["process", "thread"],
        default="process",
        help="the fake AT server in its own process (default) or a thread of this one",
    )
    parser.add_argument("--profile", default=None, help="folder for pyinstrument profiles")
    parser.add_argument(
        "--at-recipients",
        type=int,
        default=None,
        help="recipients per AT bulk request (default: the production cap, "
        "MAX_RECIPIENTS_PER_CALL); also the most people one crash leaves unknown",
    )
    args = parser.parse_args(argv)
    if args.rate is not None and args.rate_limit is not None:
        parser.error("--rate and --rate-limit are alternatives")
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
    for workers in (int(n) for n in args.workers.split(",")):
        if args.runs > 1:
            h.emit(h.run_repeated(args.runs, lambda w=workers: run_once(args, w)))
        else:
            h.emit(run_once(args, workers))


if __name__ == "__main__":
    main()
