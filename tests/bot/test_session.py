"""Sessions outside replies: queued polls, one reminder before expiry, expiry hands over."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from bot.flows.poll_format import load_poll
from bot.polls import save_poll
from bot.session import expire_sessions, queue_poll, start_queued
from storage import models as m
from tests.bot.conversation import PHONE, answers, onboard, sessions, text

SEEDLINGS = {
    "key": "seedlings",
    "languages": ["en", "sw"],
    "questions": [
        {
            "key": "planted",
            "type": "number",
            "prompt": {"en": "How many seedlings did you plant?", "sw": "Ulipanda miche mingapi?"},
        }
    ],
}
TIMEOUT = timedelta(hours=24)  # the organisation's default session timeout


def queue_seedlings(db, clock, launch_id: int | None = None):
    with db.session() as session:
        version = save_poll(
            session, session.scalar(sa.select(m.Organisation.id)), load_poll(SEEDLINGS)
        )
        person = session.scalar(sa.select(m.Participant).where(m.Participant.phone == PHONE))
        queued = queue_poll(session, person, version.id, launch_id, now=clock.now())
        again = queue_poll(session, person, version.id, launch_id, now=clock.now())
        assert again.id == queued.id  # idempotent
        rows = start_queued(session, person, now=clock.now())
        return [(row.text, row.is_reply, row.session_id) for row in rows]


def outbox(db) -> list[tuple[str, bool]]:
    with db.session() as session:
        rows = session.execute(
            sa.select(m.OutboundMessage.text, m.OutboundMessage.is_reply)
            .where(m.OutboundMessage.is_reply.is_(False))
            .order_by(m.OutboundMessage.id)
        ).all()
    return [(body, is_reply) for body, is_reply in rows]


def run_expiry(db, clock):
    with db.session() as session:
        return expire_sessions(session, clock.now())


def test_a_poll_queued_mid_conversation_waits_then_follows(phone, db, clock):
    onboard(phone)
    assert queue_seedlings(db, clock) == []  # busy with the join poll: it waits
    assert sessions(db)[-2:] == [("poll", "active"), ("poll", "queued")]
    phone.send(PHONE, "1")
    replies = phone.send(PHONE, "10")
    assert replies[-1] == "How many seedlings did you plant?"
    phone.send(PHONE, "40")
    assert answers(db) == {"works": "yes", "queue_minutes": 10, "planted": 40}


def test_a_free_participant_gets_the_first_question_as_outreach(phone, db, clock):
    onboard(phone)
    phone.send(PHONE, "1")
    phone.send(PHONE, "10")
    ((body, is_reply, session_id),) = queue_seedlings(db, clock)
    assert body == "How many seedlings did you plant?" and is_reply is False
    assert session_id is not None
    assert sessions(db)[-1] == ("poll", "active")


def test_reminder_once_before_expiry_then_expiry_starts_the_next(phone, db, clock):
    onboard(phone)
    queue_seedlings(db, clock)

    clock.advance(TIMEOUT * 0.5)
    assert run_expiry(db, clock) == []

    clock.advance(TIMEOUT * 0.35)  # 85% of the timeout: one reminder with the question
    (change,) = run_expiry(db, clock)
    assert change.action == "reminded" and len(change.outbound_ids) == 2
    assert outbox(db) == [
        (text("session.reminder"), False),
        ("Is the water point working?\n1 Yes 2 No", False),
    ]
    clock.advance(minutes=30)
    assert run_expiry(db, clock) == []  # once only

    clock.advance(TIMEOUT * 0.2)
    expired, started = run_expiry(db, clock)
    assert (expired.action, started.action) == ("expired", "started")
    assert sessions(db)[-2:] == [("poll", "expired"), ("poll", "active")]
    assert outbox(db)[-1] == ("How many seedlings did you plant?", False)


def test_a_reply_keeps_the_session_alive(phone, db, clock):
    onboard(phone)
    clock.advance(TIMEOUT * 0.9)
    phone.send(PHONE, "1")
    clock.advance(TIMEOUT * 0.5)
    assert run_expiry(db, clock) == []
    assert sessions(db)[-1] == ("poll", "active")


def test_a_reply_after_expiry_is_not_taken_as_an_answer(phone, db, clock):
    onboard(phone)
    clock.advance(TIMEOUT + timedelta(minutes=1))
    (reply,) = phone.send(PHONE, "1")
    assert reply == text("no_session")
    assert answers(db) == {}
    assert sessions(db)[-1] == ("poll", "expired")


def test_opted_out_participants_are_not_reminded_or_queued(phone, db, clock):
    onboard(phone)
    phone.send(PHONE, "STOP")
    clock.advance(TIMEOUT * 0.9)
    assert run_expiry(db, clock) == []
    with db.session() as session:
        version = save_poll(
            session, session.scalar(sa.select(m.Organisation.id)), load_poll(SEEDLINGS)
        )
        person = session.scalar(sa.select(m.Participant))
        assert queue_poll(session, person, version.id, now=clock.now()) is None
