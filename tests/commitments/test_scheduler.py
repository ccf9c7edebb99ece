"""The scheduler's duties, driven by a FakeClock: no sleeps, no skipped or repeated rounds."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from bot import commitments, scheduler
from heard.services import Services
from storage import models as m


def add_commitment(db, organisation) -> int:
    with db.session() as session:
        dialogue = commitments.add_dialogue(
            session, organisation.id, title="Water dialogue", held_on=date(2026, 1, 5)
        )
        return commitments.add_commitment(
            session,
            dialogue_id=dialogue.id,
            duty_bearer="County water office",
            description="Rehabilitate the borehole",
            short_name={"en": "the borehole repair"},
            due_on=date(2026, 2, 16),
            audience={"villages": ["Ngiluni"]},
        ).id


def test_killed_and_restarted_scheduler_neither_skips_nor_repeats(
    settings, services, db, organisation, people, clock
):
    people(3, village="Ngiluni")
    commitment_id = add_commitment(db, organisation)
    first = datetime(2026, 1, 19, 7, 0)
    current = services
    launched = []
    for number in range(1, 8):
        due_at = first + timedelta(days=14 * (number - 1))
        # Each run happens a little late, and twice: a restart in between.
        clock.set(due_at + timedelta(minutes=7 * number))
        report = scheduler.tick(current)
        assert report.errors == ()
        launched.append(report.rounds)
        current.db.dispose()
        current = Services.build(settings, clock=clock)  # "killed and restarted"
        assert scheduler.tick(current).rounds == 0
    current.db.dispose()
    assert launched == [1] * 7
    with db.session() as session:
        rows = commitments.rounds_of(session, commitment_id)
        per_person = session.execute(
            sa.select(m.OutboundMessage.participant_id, sa.func.count())
            .where(m.OutboundMessage.launch_id.is_not(None))
            .group_by(m.OutboundMessage.participant_id)
        ).all()
    assert [(r.number, r.status) for r in rows][:5] == [(n, "closed") for n in range(1, 6)]
    assert [r.number for r in rows] == list(range(1, 8))
    # Unanswered questions queue behind each other; each round's first question goes to
    # whoever is free, so nobody gets more messages than rounds.
    assert all(count <= 7 for _, count in per_person)


def test_a_long_outage_sends_only_the_newest_round(services, db, organisation, people, clock):
    people(2, village="Ngiluni")
    commitment_id = add_commitment(db, organisation)
    clock.set(datetime(2026, 2, 3, 9, 0))  # rounds 1 and 2 both fell due while down
    report = scheduler.tick(services)
    assert (report.rounds, report.missed_rounds) == (1, 1)
    with db.session() as session:
        rows = commitments.rounds_of(session, commitment_id)
    assert [(r.number, r.status) for r in rows] == [(1, "missed"), (2, "running")]


def test_tick_closes_rounds_and_sends_feedback_later(services, db, organisation, people, clock):
    people(2, village="Ngiluni")
    add_commitment(db, organisation)
    clock.set(datetime(2026, 1, 19, 7, 0))
    assert scheduler.tick(services).rounds == 1
    clock.set(datetime(2026, 2, 4, 7, 0))  # round 1 closes (round 2 went out on Feb 2)
    report = scheduler.tick(services)
    assert (report.closed_rounds, report.feedback_messages) == (1, 0)
    clock.advance(hours=25)
    assert scheduler.tick(services).feedback_messages == 0  # nobody answered round 1


def test_run_scheduler_stores_one_job_per_duty_in_our_database(services, db):
    stop = threading.Event()
    stop.set()
    try:
        for _ in range(2):  # a restart replaces the jobs instead of adding copies
            scheduler.run_scheduler(services, stop=stop)
        with db.engine.connect() as connection:
            ids = connection.execute(sa.text(f"SELECT id FROM {scheduler.JOB_TABLE}")).scalars()
            assert sorted(ids) == sorted(f"heard-{name}" for name in scheduler.INTERVALS)
    finally:
        # APScheduler's table is not one of our models; leave the shared schema as migrated.
        with db.engine.begin() as connection:
            connection.execute(sa.text(f"DROP TABLE IF EXISTS {scheduler.JOB_TABLE}"))


def test_run_scheduler_once_runs_a_tick(services, db, organisation, people, clock):
    people(1, village="Ngiluni")
    add_commitment(db, organisation)
    clock.set(datetime(2026, 1, 19, 7, 0))
    scheduler.run_scheduler(services, once=True)
    with db.session() as session:
        assert session.scalar(sa.select(sa.func.count(m.OutboundMessage.id))) == 1
