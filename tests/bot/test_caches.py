"""The hot path's caches: what they save, and that a change is never served stale.

Every inbound message used to reload per-organisation configuration (keywords, text
overrides, programmes) and recompile its poll; these tests pin the number of SQL statements
a typical answer costs, so a regression shows, and check each cache against its source.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from itertools import count

import pytest
import sqlalchemy as sa

from bot.flows.poll_format import load_poll
from bot.messages import Channel, InboundMessage
from bot.polls import definition_of, save_poll
from heard.demo import DEMO_POLL
from storage import models as m
from storage.cache import ConfigCache, cached
from tests.bot.conversation import PHONE

_ids = count(1)


def sms(services, organisation, text: str, phone: str = PHONE):
    """One SMS through the engine as the Twilio webhook hands it over (outbox included)."""
    return services.engine.handle(
        InboundMessage(
            sender=phone,
            text=text,
            channel=Channel.SMS,
            organisation_id=organisation.id,
            provider="twilio",
            provider_message_id=f"SM{next(_ids):032d}",
        )
    )


def texts(outcome) -> list[str]:
    return [reply.text for reply in outcome.replies]


def onboard(services, organisation, phone: str = PHONE) -> None:
    for text in ("JOIN", "YES", "SKIP", "SKIP", "SKIP", "SKIP"):
        sms(services, organisation, text, phone)


@contextmanager
def statements(services) -> Iterator[list[str]]:
    """The SQL statements sent, without transaction control (SQLite's BEGIN IMMEDIATE is
    a statement to SQLAlchemy, PostgreSQL's BEGIN is not)."""
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "SAVEPOINT", "RELEASE")):
            seen.append(statement)

    engine = services.db.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


# A poll answer: participant (locked) with its organisation, inbound insert, active
# session, poll version stamp (an unlaunched version's; a launched one's is cached),
# answer insert, session update, outbox rows (one executemany), and the participant's
# `last_seen_at` when the clock moved. Raise this only with a reason: each statement is a
# network round trip.
POLL_ANSWER_BUDGET = 8


def test_a_poll_answer_costs_at_most_eight_statements(services, organisation):
    onboard(services, organisation)
    sms(services, organisation, "2")  # warm: the poll's first answer after onboarding
    with statements(services) as seen:
        outcome = sms(services, organisation, "12")
    assert texts(outcome)[0].startswith("How many minutes")
    assert len(seen) <= POLL_ANSWER_BUDGET, "\n".join(seen)


def test_a_profile_answer_reads_no_configuration(services, organisation):
    sms(services, organisation, "JOIN")
    sms(services, organisation, "YES")
    with statements(services) as seen:
        outcome = sms(services, organisation, "1")
    assert texts(outcome)[0].startswith("How old are you?")
    for table in ("keywords", "text_overrides", "programmes", "poll_versions", "questions"):
        assert not [s for s in seen if f"FROM {table}" in s], table


def test_a_duplicate_delivery_is_one_insert_and_no_reply(services, organisation, db):
    message = InboundMessage(
        sender=PHONE, text="JOIN", organisation_id=organisation.id, provider="twilio",
        provider_message_id="SM-dup",
    )  # fmt: skip
    assert services.engine.handle(message).replies
    with statements(services) as seen:
        again = services.engine.handle(message)
    assert again.duplicate and again.replies == []
    assert len([s for s in seen if "inbound_messages" in s]) == 1
    with db.session() as session:
        stored = session.scalars(sa.select(m.InboundMessage)).all()
        assert [(row.text, row.processed_at is not None) for row in stored] == [("JOIN", True)]


def test_queued_replies_carry_their_creation_and_no_status_event(services, organisation, db):
    """Queueing is the row itself (status `queued`, `created_at`): an event per reply
    would be one more write per message saying the same thing."""
    before = services.engine.clock.now()
    sms(services, organisation, "JOIN")
    outcome = sms(services, organisation, "YES")  # thanks + profile intro + question
    assert len(outcome.replies) >= 2
    with db.session() as session:
        rows = session.scalars(sa.select(m.OutboundMessage).order_by(m.OutboundMessage.id)).all()
        assert [row.text for row in rows[-len(outcome.replies) :]] == texts(outcome)
        assert {(row.status, row.is_reply) for row in rows} == {("queued", True)}
        assert all(row.created_at >= before and row.in_reply_to_id for row in rows)
        assert session.scalars(sa.select(m.MessageStatusEvent)).all() == []


# --- each cache sees a change made through any Database of the process ---------------------


def test_a_new_keyword_answers_at_once(services, organisation, db):
    sms(services, organisation, "JOIN")  # fills the keyword table
    with db.session() as session:
        session.add(
            m.Keyword(
                organisation_id=organisation.id,
                word="MAJI",
                action="reply",
                response={"en": "Water office: 0700 000 000"},
            )
        )
    assert texts(sms(services, organisation, "maji"))[0] == "Water office: 0700 000 000"


def test_a_changed_text_override_is_used_at_once(services, organisation, db):
    sms(services, organisation, "HELP")
    with db.session() as session:
        session.add(
            m.TextOverride(
                organisation_id=organisation.id, language="en", msgid="help", text="Call us."
            )
        )
    assert texts(sms(services, organisation, "HELP"))[0] == "Call us."
    with db.session() as session:
        session.execute(sa.update(m.TextOverride).values(text="Call us now."))  # bulk, too
    assert texts(sms(services, organisation, "HELP"))[0] == "Call us now."


def test_a_new_programme_counts_reports_at_once(services, organisation, db):
    onboard(services, organisation)
    sms(services, organisation, "TREES 5")  # no programme yet: not a report
    with db.session() as session:
        session.add(
            m.Programme(
                organisation_id=organisation.id,
                key="trees",
                keywords=["TREES", "MITI"],
                unit={"en": "seedlings"},
            )
        )
    reply = texts(sms(services, organisation, "TREES 5"))[0]
    assert "5 seedlings" in reply
    with db.session() as session:
        assert session.scalar(sa.select(sa.func.sum(m.ProgressReport.quantity))) == 5


def test_a_replaced_unlaunched_version_is_recompiled(db, organisation):
    changed = dict(DEMO_POLL)
    changed["end_message"] = {"en": "Changed ending."}
    with db.session() as session:
        version = session.scalar(sa.select(m.PollVersion))
        before = definition_of(session, version.id)
        replaced = save_poll(session, organisation.id, load_poll(changed))
        # On SQLite the replacement can reuse the deleted row's id; its content differs.
        assert definition_of(session, replaced.id).end_message == {"en": "Changed ending."}
    assert before.end_message != {"en": "Changed ending."}


def test_entries_expire_after_the_ttl():
    now = [0.0]
    cache = ConfigCache(ttl=30.0, clock=lambda: now[0])
    values = iter(["first", "second"])
    assert cache.get("k", lambda: next(values)) == "first"
    now[0] = 29.9
    assert cache.get("k", lambda: next(values)) == "first"
    now[0] = 30.0  # another process's change is seen within the TTL
    assert cache.get("k", lambda: next(values)) == "second"
    assert cache.loads == 2


def test_the_cache_stays_bounded():
    """Webhook routes are keyed by the request's `To`: a flood of made-up numbers must not
    grow the process without limit."""
    cache = ConfigCache(max_entries=3)
    for key in range(10):
        cache.get(key, lambda: "route")
    assert len(cache._entries) <= 3


def test_a_session_without_a_cache_just_loads(db):
    from sqlalchemy.orm import Session

    with Session(db.engine) as session:
        loads = iter([1, 2])
        assert cached(session, "k", lambda: next(loads)) == 1
        assert cached(session, "k", lambda: next(loads)) == 2


@pytest.mark.parametrize("text", ["1", "15", " 2 ", "1,200", "3.5", "1 3", "*1#", "-4"])
def test_digits_never_read_as_a_wish_to_stop(services, text):
    """The engine skips the NLU for such replies; this holds only while the NLU agrees."""
    assert services.interpreter.parse(text, language_hint="en").intent != "stop"
