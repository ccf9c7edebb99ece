"""The scheduler: one process that turns time into outbox rows.

Every duty is a plain function of `services` (it opens its own transaction and asks
`services.clock` the time), so tests call them, or `tick()`, with a `FakeClock` and never
sleep. APScheduler only decides *when* they run:

- a `BackgroundScheduler` whose jobs live in our own database (`SQLAlchemyJobStore`), so a
  restarted scheduler finds its jobs and `replace_existing=True` keeps one job per duty;
- `coalesce=True`: after downtime a duty runs once, not once per missed interval;
- `max_instances=1`: a slow launch is never overlapped by the next tick of the same duty;
- a generous `misfire_grace_time`: every duty catches up on whatever is due, so running
  late is always right and skipping a run never is;
- jobs are stored as a reference to `run_duty` and a duty name: nothing unpicklable (no
  engine, no clock) goes into the job table.

The scheduler only enqueues; the outbox workers send. Duties are idempotent (unique
sessions per launch, unique rounds per plan, `feedback_sent_at`), so a scheduler killed
mid-run and restarted neither skips nor repeats a round.

Recurring polls (a weekly "How many seedlings did your group plant?") are the `recurring`
duty (`bot.recurring`): unique launches per occurrence, newest only after an outage.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from bot import commitments, feedback, outreach, recurring, verdicts
from storage import models as m

log = logging.getLogger(__name__)

JOB_TABLE = "apscheduler_jobs"
MISFIRE_GRACE_SECONDS = 3600
# While the database is away, the scheduling loop looks again this often (APScheduler's
# own jobstore_retry_interval when reading due jobs fails).
JOBSTORE_RETRY_SECONDS = 10
DATABASE_ERRORS = (sa.exc.DBAPIError, sa.exc.TimeoutError)

# duty name → seconds between runs
INTERVALS: dict[str, int] = {
    "launches": 30,
    "recurring": 60,
    "rounds": 60,
    "close_rounds": 300,
    "feedback": 300,
    "reminders": 300,
    "expire_sessions": 60,
    "retention": 24 * 3600,
}


@dataclass(frozen=True)
class TickReport:
    launches: int = 0
    recurring: int = 0  # occurrences of recurring polls launched
    rounds: int = 0
    missed_rounds: int = 0
    closed_rounds: int = 0
    feedback_messages: int = 0
    reminders: int = 0
    expired_sessions: int = 0
    retention: bool = False
    errors: tuple[str, ...] = field(default_factory=tuple)


# --- the duties -----------------------------------------------------------------------


def due_launches(services) -> int:
    """Scheduled launches whose time has come, each in its own transaction: one bad
    launch must not hold up the others."""
    now = services.clock.now()
    with services.db.session() as db:
        ids = db.scalars(
            sa.select(m.Launch.id)
            .where(m.Launch.status == "scheduled", m.Launch.scheduled_for <= now)
            .order_by(m.Launch.scheduled_for, m.Launch.id)
        ).all()
    for launch_id in ids:
        with services.db.session() as db:
            outreach.launch(db, launch_id, now)
    return len(ids)


def due_recurring(services) -> int:
    """Each recurring poll's newest due occurrence, each in its own transaction (one poll
    whose latest version cannot be launched must not hold up the others' weekly round)."""
    now = services.clock.now()
    with services.db.session() as db:
        ids = recurring.due_ids(db, now)
    launched = 0
    for recurring_id in ids:
        try:
            with services.db.session() as db:
                launched += recurring.launch_due(db, recurring_id, now) is not None
        except Exception:
            log.exception("recurring poll %s could not be launched", recurring_id)
    return launched


def due_rounds(services) -> tuple[int, int]:
    with services.db.session() as db:
        done = commitments.due_rounds(db, services.clock.now())
    running = sum(1 for d in done if d.status == "running")
    return running, len(done) - running


def close_rounds(services) -> int:
    now = services.clock.now()
    with services.db.session() as db:
        ids = [r.id for r in verdicts.closable_rounds(db, now)]
    for round_id in ids:
        with services.db.session() as db:
            row = db.get(m.RepollRound, round_id, with_for_update=True)
            if row is None or row.status != "running":
                continue
            verdicts.close_round(db, row, now)
            feedback.prepare(db, row)
    return len(ids)


def send_feedback(services) -> int:
    now = services.clock.now()
    with services.db.session() as db:
        ids = [r.id for r in feedback.due_feedback(db, now)]
    sent = 0
    for round_id in ids:
        with services.db.session() as db:
            sent += feedback.send_feedback(db, db.get(m.RepollRound, round_id), now)
    return sent


def reminders(services) -> int:
    with services.db.session() as db:
        return outreach.send_reminders(db, services.clock.now())


def expire_sessions(services) -> int:
    """The engine's session expiry (`bot.session.expire_sessions`), when it exists."""
    try:
        from bot.session import expire_sessions as expire
    except ImportError:
        return 0
    with services.db.session() as db:
        result = expire(db, services.clock.now())
    return result if isinstance(result, int) else 0


def retention(services) -> bool:
    """The engine's data retention (`bot.retention.apply_retention`), when it exists."""
    try:
        from bot.retention import apply_retention
    except ImportError:
        return False
    with services.db.session() as db:
        apply_retention(db, services.clock.now())
    return True


DUTIES: dict[str, Callable[[Any], Any]] = {
    "launches": due_launches,
    "recurring": due_recurring,
    "rounds": due_rounds,
    "close_rounds": close_rounds,
    "feedback": send_feedback,
    "reminders": reminders,
    "expire_sessions": expire_sessions,
    "retention": retention,
}


def tick(services) -> TickReport:
    """Run every duty once, in dependency order (a round closes before its feedback).

    A failing duty is logged and reported, and the others still run."""
    results: dict[str, Any] = {}
    errors = []
    for name, duty in DUTIES.items():
        try:
            results[name] = duty(services)
        except Exception as error:
            log.exception("scheduler duty %s failed", name)
            errors.append(f"{name}: {error}")
    running, missed = results.get("rounds", (0, 0))
    return TickReport(
        launches=results.get("launches", 0),
        recurring=results.get("recurring", 0),
        rounds=running,
        missed_rounds=missed,
        closed_rounds=results.get("close_rounds", 0),
        feedback_messages=results.get("feedback", 0),
        reminders=results.get("reminders", 0),
        expired_sessions=results.get("expire_sessions", 0),
        retention=bool(results.get("retention", False)),
        errors=tuple(errors),
    )


# --- APScheduler ------------------------------------------------------------------------

_services_lock = threading.Lock()
_SERVICES: Any = None


def run_duty(name: str) -> None:
    """What a stored job calls: the duty by name, with this process's services."""
    with _services_lock:
        services = _SERVICES
    if services is None:
        log.warning("scheduler job %s ran with no services registered", name)
        return
    try:
        DUTIES[name](services)
    except Exception:
        log.exception("scheduler duty %s failed", name)


def job_store(engine: sa.Engine):
    """APScheduler's SQLAlchemy job store, made to survive a database outage.

    APScheduler 3 catches a failure to read the due jobs (and retries 10 s later), but
    not one in `update_job` or `get_next_run_time`, which it calls in the same loop right
    after: if the connection is cut between those calls, the exception ends the scheduling
    thread, and `heard scheduler` stays alive running nothing, ever (no launches, rounds or
    reminders), with no exit for a supervisor to restart. Here both degrade instead: a job
    whose next run could not be stored is still due in the table, so it runs again once
    the database is back (the duties are idempotent), and the loop wakes up again in
    JOBSTORE_RETRY_SECONDS.
    """
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    class OutageTolerantJobStore(SQLAlchemyJobStore):
        def update_job(self, job) -> None:
            try:
                super().update_job(job)
            except DATABASE_ERRORS as error:
                log.warning(
                    "scheduler: next run of %s not stored, database away: %s", job.id, error
                )

        def get_next_run_time(self):
            try:
                return super().get_next_run_time()
            except DATABASE_ERRORS as error:
                log.warning("scheduler: database away, looking again shortly: %s", error)
                return datetime.now(UTC) + timedelta(seconds=JOBSTORE_RETRY_SECONDS)

    return OutageTolerantJobStore(engine=engine, tablename=JOB_TABLE)


def build_scheduler(services):
    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler(
        jobstores={"default": job_store(services.db.engine)},
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": MISFIRE_GRACE_SECONDS,
        },
        timezone=UTC,
    )
    return scheduler


def add_jobs(scheduler) -> None:
    now = datetime.now(UTC)
    for name, seconds in INTERVALS.items():
        scheduler.add_job(
            "bot.scheduler:run_duty",
            "interval",
            seconds=seconds,
            args=[name],
            id=f"heard-{name}",
            name=name,
            replace_existing=True,
            # After a restart, catch up at once rather than one interval later.
            next_run_time=now,
        )


def run_scheduler(services, *, once: bool = False, stop: threading.Event | None = None) -> None:
    """`heard scheduler` and `heard demo`: run until `stop` is set (or Ctrl+C)."""
    global _SERVICES
    if once:
        report = tick(services)
        log.info("scheduler tick: %s", report)
        return
    with _services_lock:
        _SERVICES = services
    scheduler = build_scheduler(services)
    scheduler.start(paused=True)
    add_jobs(scheduler)
    scheduler.resume()
    try:
        (stop or threading.Event()).wait()
    except KeyboardInterrupt:
        pass
    finally:
        scheduler.shutdown(wait=True)
        with _services_lock:
            _SERVICES = None
