"""The worker loop: `run_worker`, recovery at start and every minute, and many worker
processes at once."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time as walltime
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from sms_gateway.worker import drain_once, outbox_for, run_worker
from storage import models as m
from storage import queries
from tests.conftest import is_postgres
from tests.sms_gateway.backlog import seed, with_fake_africastalking

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def settings(settings, fake_at):
    return with_fake_africastalking(settings, fake_at)


def statuses(db) -> dict[str, int]:
    with db.session() as session:
        rows = session.execute(
            sa.select(m.OutboundMessage.status, sa.func.count()).group_by(m.OutboundMessage.status)
        ).all()
    return dict(rows)


def test_run_worker_once_drains_what_is_due_within_the_rate(
    services, db, organisation, fake_at, clock
) -> None:
    seed(db, organisation, 120)  # Africa's Talking's default rate is 50 messages/s

    run_worker(services, once=True)
    assert statuses(db) == {"sent": 50, "queued": 70}
    clock.advance(seconds=1)
    run_worker(services, once=True)
    clock.advance(seconds=1)
    run_worker(services, once=True)

    assert statuses(db) == {"sent": 120}
    assert [len(r.first("to").split(",")) for r in fake_at.send_requests] == [50, 50, 20]
    assert set(fake_at.send_counts.values()) == {1}


def test_drain_once_keeps_its_outbox_between_calls(services) -> None:
    assert outbox_for(services) is outbox_for(services)
    assert drain_once(services).claimed == 0


def test_run_worker_recovers_rows_left_sending_first(services, db, organisation, clock, fake_at):
    seed(db, organisation, 2)
    with db.session() as session:
        stuck = session.scalar(sa.select(m.OutboundMessage).order_by(m.OutboundMessage.id))
        stuck.attempts = 1
        stuck.updated_at = clock.now() - timedelta(hours=1)
        queries.record_status(session, stuck, "sending", now=stuck.updated_at)
    stop = threading.Event()
    stop.set()  # recover, then stop before draining

    run_worker(services, stop=stop)

    assert statuses(db) == {"unknown": 1, "queued": 1}
    assert fake_at.send_requests == []
    run_worker(services, once=True)
    assert statuses(db) == {"unknown": 1, "sent": 1}


class TickingStop(threading.Event):
    """The worker's idle wait, on the injected clock: each wait moves it `step` on, and
    the loop stops after `ticks` waits."""

    def __init__(self, clock, step: timedelta, ticks: int):
        super().__init__()
        self.clock, self.step, self.ticks = clock, step, ticks

    def wait(self, timeout: float | None = None) -> bool:
        self.clock.advance(self.step)
        self.ticks -= 1
        if self.ticks <= 0:
            self.set()
        return self.is_set()


def test_run_worker_recovers_periodically_not_only_at_start(
    services, db, organisation, clock, fake_at
) -> None:
    seed(db, organisation, 1)
    with db.session() as session:  # another worker died in its bulk request 4 minutes ago
        stuck = session.scalar(sa.select(m.OutboundMessage))
        stuck.attempts = 1
        stuck.updated_at = clock.now() - timedelta(minutes=4)
        queries.record_status(session, stuck, "sending", now=stuck.updated_at)

    # Too fresh at start; 40 s per idle wait: the recovery at 80 s finds it 5:20 old.
    run_worker(services, stop=TickingStop(clock, timedelta(seconds=40), ticks=3))

    assert statuses(db) == {"unknown": 1}
    assert fake_at.send_requests == []


DRAIN_SCRIPT = """
import json, sys
from pathlib import Path
from bot.clock import SystemClock
from heard.config import AfricasTalkingSettings, Settings
from sms_gateway.outbox import Outbox
from storage.db import Database

config = json.loads(sys.argv[1])
settings = Settings(
    database_url=config["url"],
    instance_path=Path(config["instance"]),
    secret_key="test-secret-key-0123456789",
    africastalking=AfricasTalkingSettings(config["username"], config["api_key"], "HEARD"),
    at_api_base=config["api_base"],
    at_callback_token="t",
)
db = Database(settings.database_url)
outbox = Outbox(db, settings, SystemClock(), rates={"africastalking": 1e9})
sent = 0
while True:
    report = outbox.drain_once(batch_size=100)
    if report.claimed == 0:
        break
    sent += report.sent
print(sent)
"""


@pytest.mark.slow
@pytest.mark.postgres_only
@pytest.mark.skipif(not is_postgres(), reason="many workers need PostgreSQL's SKIP LOCKED")
def test_three_worker_processes_send_each_message_exactly_once(
    settings, db, organisation, fake_at, tmp_path
) -> None:
    total = 5000
    seed(db, organisation, total)
    config = json.dumps(
        {
            "url": settings.database_url,
            "instance": str(tmp_path),
            "username": fake_at.username,
            "api_key": fake_at.api_key,
            "api_base": fake_at.url,
        }
    )
    started = walltime.monotonic()
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", DRAIN_SCRIPT, config],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [worker.communicate(timeout=90) for worker in workers]
    elapsed = walltime.monotonic() - started

    for worker, (_, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err
    per_worker = [int(out.strip()) for out, _ in outputs]
    assert sum(per_worker) == total
    assert all(n > 0 for n in per_worker), f"a worker sent nothing: {per_worker}"
    counts = fake_at.send_counts
    assert len(counts) == total and set(counts.values()) == {1}
    assert statuses(db) == {"sent": total}
    with db.session() as session:
        sending_marks = session.scalar(
            sa.select(sa.func.count())
            .select_from(m.MessageStatusEvent)
            .where(m.MessageStatusEvent.status == "sending")
        )
    assert sending_marks == total
    assert elapsed < 60, f"draining took {elapsed:.1f}s"


def test_a_database_outage_is_a_warning_and_the_worker_waits(services, monkeypatch, caplog):
    """Expected while the database restarts, and retried: no ERROR traceback per attempt
    (benchmarks/db_outage.py counts tracebacks in the processes' logs)."""

    def cut(*_args, **_kwargs):
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("server closed the connection"))

    monkeypatch.setattr(outbox_for(services), "drain_once", cut)
    monkeypatch.setattr(outbox_for(services), "recover", cut)
    with caplog.at_level("WARNING", logger="sms_gateway.worker"):
        run_worker(services, once=True)
    records = [r for r in caplog.records if r.name == "sms_gateway.worker"]
    assert [r.levelname for r in records] == ["WARNING", "WARNING"]
    assert all(r.exc_info is None for r in records)
    assert "server closed the connection" in records[-1].getMessage()
