"""Queued inbound: messages stored on arrival, handled later by workers, exactly as inline."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from bot import inbox
from bot.clock import SystemClock
from bot.engine import Engine
from bot.messages import Channel, InboundMessage
from storage import models as m
from tests.conftest import is_postgres

# Join, agree, the profile (a question skipped, one answered with an emoji first), the
# poll that follows (HELP in the middle, a 2,000-character reply), an empty one, STOP.
CONVERSATION = [
    "JOIN",
    "YES",
    "skip",
    "2",
    "🙂",
    "1",
    "Ngiluni",
    "1",
    "HELP",
    "x" * 2000,
    "15",
    "",
    "STOP",
]


def message(org_id: int, phone: str, index: int, text: str, **extra) -> InboundMessage:
    return InboundMessage(
        sender=phone,
        text=text,
        channel=Channel.SMS,
        organisation_id=org_id,
        provider="twilio",
        provider_message_id=f"SM{phone[-4:]}{index:03d}",
        **extra,
    )


def transcript(db, phone: str) -> dict[str, object]:
    """What a conversation left behind for one phone: replies, answers, sessions, state."""
    with db.session() as session:
        person = session.scalar(sa.select(m.Participant).where(m.Participant.phone == phone))
        replies = session.scalars(
            sa.select(m.OutboundMessage.text)
            .where(m.OutboundMessage.to == phone)
            .order_by(m.OutboundMessage.id)
        ).all()
        answers = session.execute(
            sa.select(m.Answer.question_key, m.Answer.value, m.Answer.status)
            .where(m.Answer.participant_id == person.id)
            .order_by(m.Answer.id)
        ).all()
        sessions = session.execute(
            sa.select(
                m.ConversationSession.flow,
                m.ConversationSession.status,
                m.ConversationSession.step,
            )
            .where(m.ConversationSession.participant_id == person.id)
            .order_by(m.ConversationSession.id)
        ).all()
        inbound = session.execute(
            sa.select(m.InboundMessage.text, m.InboundMessage.language, m.InboundMessage.error)
            .where(m.InboundMessage.sender == phone)
            .order_by(m.InboundMessage.id)
        ).all()
        return {
            "replies": list(replies),
            "answers": [tuple(row) for row in answers],
            "sessions": [tuple(row) for row in sessions],
            "inbound": [tuple(row) for row in inbound],
            "person": (person.status, person.language, person.consent_version, person.gender),
        }


def test_a_queued_conversation_ends_exactly_as_the_inline_one(db, services, organisation, clock):
    inline, queued = "+254712000001", "+254712000002"
    for index, text in enumerate(CONVERSATION):
        services.engine.handle(message(organisation.id, inline, index, text))
    # The whole burst arrives before any of it is handled.
    for index, text in enumerate(CONVERSATION):
        assert inbox.accept(db, message(organisation.id, queued, index, text), clock.now())
    with db.session() as session:
        waiting = session.scalars(
            sa.select(m.InboundMessage).where(m.InboundMessage.sender == queued)
        )
        assert {(row.processed_at, row.participant_id) for row in waiting} == {(None, None)}
    assert inbox.waiting(db) == len(CONVERSATION)

    report = inbox.handle_waiting(services.engine)

    assert report == inbox.InboxReport(handled=len(CONVERSATION))
    assert inbox.waiting(db) == 0
    expected = transcript(db, inline)
    assert expected["replies"] and expected["answers"]  # the conversation did go somewhere
    assert transcript(db, queued) == expected
    assert inbox.handle_waiting(services.engine) == inbox.InboxReport()  # nothing left


def test_a_provider_retry_is_stored_and_handled_once(db, services, organisation, clock):
    phone = "+254712000003"
    assert inbox.accept(db, message(organisation.id, phone, 0, "JOIN"), clock.now())
    assert not inbox.accept(db, message(organisation.id, phone, 0, "JOIN"), clock.now())
    assert inbox.handle_waiting(services.engine).handled == 1
    # A retry after it was handled is still the same message.
    assert not inbox.accept(db, message(organisation.id, phone, 0, "JOIN"), clock.now())
    assert len(transcript(db, phone)["replies"]) == 1


def test_a_reply_quotes_the_premium_link_id_the_message_arrived_with(
    db, services, organisation, clock
):
    phone = "+254712000004"
    arrived = message(organisation.id, phone, 0, "JIUNGE", link_id="SampleLinkId123")
    inbox.accept(db, arrived, clock.now())
    inbox.handle_waiting(services.engine)
    with db.session() as session:
        reply = session.scalar(sa.select(m.OutboundMessage).where(m.OutboundMessage.to == phone))
        assert reply.link_id == "SampleLinkId123"
        assert reply.in_reply_to_id == session.scalar(sa.select(m.InboundMessage.id))


def test_a_message_the_engine_fails_on_is_set_aside_and_the_sender_carries_on(
    db, services, organisation, clock, monkeypatch
):
    phone = "+254712000005"
    route = Engine._route

    def failing(self, turn, text):
        if text == "BOOM":
            raise RuntimeError("a bug in a flow")
        return route(self, turn, text)

    monkeypatch.setattr(Engine, "_route", failing)
    for index, text in enumerate(["JOIN", "BOOM", "YES"]):
        inbox.accept(db, message(organisation.id, phone, index, text), clock.now())

    report = inbox.handle_waiting(services.engine)

    assert report == inbox.InboxReport(handled=2, failed=1)
    rows = transcript(db, phone)["inbound"]
    assert [(text, error) for text, _, error in rows] == [
        ("JOIN", None),
        ("BOOM", "RuntimeError: a bug in a flow"),
        ("YES", None),
    ]
    assert transcript(db, phone)["person"][0] == "active"  # YES was handled after it


def test_the_database_failing_leaves_the_message_waiting(
    db, services, organisation, clock, monkeypatch
):
    phone = "+254712000006"
    inbox.accept(db, message(organisation.id, phone, 0, "JOIN"), clock.now())

    def unreachable(*_args, **_kwargs):
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("server closed the connection"))

    monkeypatch.setattr(Engine, "handle_in", unreachable)
    with pytest.raises(sa.exc.OperationalError):
        inbox.handle_waiting(services.engine)
    assert inbox.waiting(db) == 1
    monkeypatch.undo()
    assert inbox.handle_waiting(services.engine).handled == 1


@pytest.mark.skipif(not is_postgres(), reason="workers in parallel need PostgreSQL's SKIP LOCKED")
def test_parallel_workers_keep_each_senders_order(db, services, organisation):
    """Three workers, five senders with a conversation each: every message handled once,
    each sender's in the order they arrived, and each conversation as if handled alone."""
    phones = [f"+2547120001{n:02d}" for n in range(5)]
    clock = SystemClock()
    # One sender's messages after another's: consecutive ids are one person's, which
    # workers taking "the next id" would handle at the same time, out of order.
    for phone in phones:
        for index, text in enumerate(CONVERSATION[:11]):
            inbox.accept(db, message(organisation.id, phone, index, text), clock.now())
    engine = Engine(services.db, services.interpreter, clock)
    reports: list[inbox.InboxReport] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            while (report := inbox.handle_waiting(engine, limit=3)).taken:
                reports.append(report)
        except BaseException as error:  # surfaced below, not lost in the thread
            errors.append(error)

    workers = [threading.Thread(target=work) for _ in range(3)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(60)

    assert errors == []
    assert sum(report.handled for report in reports) == 11 * len(phones)
    assert sum(report.failed + report.duplicates for report in reports) == 0
    with db.session() as session:
        for phone in phones:
            stamps = session.scalars(
                sa.select(m.InboundMessage.processed_at)
                .where(m.InboundMessage.sender == phone)
                .order_by(m.InboundMessage.id)
            ).all()
            assert None not in stamps and stamps == sorted(stamps)
    first = transcript(db, phones[0])
    assert first["answers"]
    for phone in phones[1:]:
        assert transcript(db, phone) == first


@pytest.mark.slow
@pytest.mark.postgres_only
@pytest.mark.skipif(not is_postgres(), reason="a worker process beside the test needs PostgreSQL")
def test_killed_workers_lose_nothing_and_handle_nothing_twice(settings, db, services, organisation):
    """`heard worker --only inbox` killed with SIGKILL twice mid-backlog, then restarted:
    every stored message handled exactly once, each conversation as if handled inline."""
    import os
    import signal
    import subprocess
    import time as walltime

    from benchmarks._harness import HEARD

    reference = "+254712000999"
    for index, text in enumerate(CONVERSATION):
        services.engine.handle(message(organisation.id, reference, index, text))
    phones = [f"+2547120002{n:02d}" for n in range(30)]
    for phone in phones:
        for index, text in enumerate(CONVERSATION):
            inbox.accept(db, message(organisation.id, phone, index, text), services.clock.now())
    total = len(phones) * len(CONVERSATION)
    env = {
        **os.environ,
        "HEARD_DATABASE_URL": settings.database_url,
        "HEARD_INSTANCE_PATH": str(settings.instance_path),
        "HEARD_SECRET_KEY": "k" * 32,
        "HEARD_INBOUND_MODE": "queued",
    }

    def worker() -> subprocess.Popen:
        command = [HEARD, "worker", "--only", "inbox"]
        return subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)

    def wait_until_waiting_at_most(left: int, process: subprocess.Popen) -> None:
        deadline = walltime.monotonic() + 60
        while inbox.waiting(db) > left and walltime.monotonic() < deadline:
            assert process.poll() is None, "the worker died on its own"
            walltime.sleep(0.02)

    kills = 0
    for stop_at in (total * 2 // 3, total // 3):
        process = worker()
        wait_until_waiting_at_most(stop_at, process)
        os.kill(process.pid, signal.SIGKILL)  # mid-message, most likely: no goodbye
        process.wait(10)
        kills += 1
    process = worker()
    wait_until_waiting_at_most(0, process)
    process.terminate()
    assert process.wait(10) == 0  # SIGTERM: the batch in hand is finished, then it exits

    assert kills == 2 and inbox.waiting(db) == 0
    with db.session() as session:
        failed = session.scalar(
            sa.select(sa.func.count()).where(m.InboundMessage.error.is_not(None))
        )
        assert failed == 0
    expected = transcript(db, reference)
    for phone in phones:
        assert transcript(db, phone) == expected
