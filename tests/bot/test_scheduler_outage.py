"""The scheduler's loop survives a database cut at any point of its cycle.

APScheduler 3 retries when reading the due jobs fails, but a failure in `update_job` or
`get_next_run_time` (called right after, in the same loop) ended its thread, leaving
`heard scheduler` alive and idle forever. benchmarks/db_outage.py runs the real processes
through an outage; this pins the window it can only hit by chance.
"""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from bot import scheduler


def _cut_once(original, remaining: dict, name: str):
    def call(self, *args):
        if remaining[name]:
            remaining[name] -= 1
            raise sa.exc.OperationalError(
                "SELECT", {}, Exception("server closed the connection unexpectedly")
            )
        return original(self, *args)

    return call


@pytest.mark.slow
def test_a_cut_after_the_due_jobs_were_read_does_not_stop_the_scheduler(services, db, monkeypatch):
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    runs: list[float] = []
    monkeypatch.setattr(scheduler, "INTERVALS", {"launches": 1})
    monkeypatch.setitem(scheduler.DUTIES, "launches", lambda _services: runs.append(1))
    monkeypatch.setattr(scheduler, "JOBSTORE_RETRY_SECONDS", 0.2)
    remaining = {"update_job": 1, "get_next_run_time": 1}
    for name in remaining:
        original = getattr(SQLAlchemyJobStore, name)
        monkeypatch.setattr(SQLAlchemyJobStore, name, _cut_once(original, remaining, name))
    stop = threading.Event()
    thread = threading.Thread(
        target=scheduler.run_scheduler, args=(services,), kwargs={"stop": stop}
    )
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while len(runs) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        thread.join(timeout=10)
        with db.engine.begin() as connection:
            connection.execute(sa.text(f"DROP TABLE IF EXISTS {scheduler.JOB_TABLE}"))
    assert remaining == {"update_job": 0, "get_next_run_time": 0}  # both cuts happened
    assert len(runs) >= 3  # and the loop went on running the duty
