"""Conversations through the console gateway: inbound text → replies and stored state."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from storage import models as m
from tests.bot.conversation import PHONE, answers, onboard, participant


def test_join_consent_answers_and_stop(phone, db):
    (reply,) = phone.send(PHONE, "JOIN")
    assert "Reply YES to agree" in reply
    assert participant(db).status == "pending_consent"

    replies = phone.send(PHONE, "yes")
    assert replies[0].startswith("Thank you for joining")
    assert replies[-1].startswith("What is your gender?")  # the optional profile comes first
    for _ in range(4):
        replies = phone.send(PHONE, "SKIP")
    assert replies[-1].startswith("Is the water point working?")
    assert "1 Yes" in replies[-1] and "2 No" in replies[-1]

    (reply,) = phone.send(PHONE, "2")
    assert reply.startswith("For how many days")
    (reply,) = phone.send(PHONE, "12")
    assert reply.startswith("How many minutes")
    assert answers(db) == {"works": "no", "days_broken": 12}

    (reply,) = phone.send(PHONE, "STOP")
    assert "no more messages" in reply
    person = participant(db)
    assert person.status == "opted_out"
    with db.session() as session:
        live = session.scalar(
            sa.select(sa.func.count()).where(m.ConversationSession.status.in_(("active", "queued")))
        )
        consent = session.scalars(sa.select(m.ConsentRecord)).all()
    assert live == 0
    assert [(c.decision, c.version) for c in consent] == [("granted", 1)]
    # Opted out: nothing more is said, whatever they send, until START.
    assert phone.send(PHONE, "25") == []
    assert phone.send(PHONE, "STOP") == []


def test_skip_logic_skips_days_broken_when_working(phone, db):
    onboard(phone)
    (reply,) = phone.send(PHONE, "1")
    assert reply.startswith("How many minutes")
    replies = phone.send(PHONE, "30")
    assert replies == ["Thank you! Your answers help hold the water office to its word."]
    assert answers(db) == {"works": "yes", "queue_minutes": 30}


def test_swahili_join_word_sets_language(phone, db):
    replies = onboard(phone, join="JIUNGE", yes="ndiyo")
    assert participant(db).language == "sw"
    assert replies[-1].startswith("Je, kisima kinafanya kazi?")
    assert "1 Ndiyo" in replies[-1]
    phone.send(PHONE, "hapana")
    assert answers(db) == {"works": "no"}


def test_unclear_answer_is_reasked_twice_then_skipped(phone, db):
    onboard(phone)
    first = phone.send(PHONE, "banana")
    assert first[0].startswith("Sorry, we did not understand.")
    assert first[1].startswith("Is the water point working?")
    phone.send(PHONE, "banana")
    third = phone.send(PHONE, "banana")
    assert third[0] == "We will skip that question."
    assert third[1].startswith("How many minutes")
    with db.session() as session:
        skipped = session.scalar(sa.select(m.Answer).where(m.Answer.question_key == "works"))
    assert skipped.status == "skipped" and skipped.value is None


def test_declining_consent_means_no_poll(phone, db):
    phone.send(PHONE, "JOIN")
    (reply,) = phone.send(PHONE, "no")
    assert "we will not send you questions" in reply
    assert participant(db).status == "declined"
    (reply,) = phone.send(PHONE, "1")
    assert "we will not send you questions" in reply
    assert answers(db) == {}


def test_start_after_stop_welcomes_back_without_new_consent(phone, db):
    onboard(phone)
    phone.send(PHONE, "STOP")
    replies = phone.send(PHONE, "START")
    assert replies[0].startswith("Welcome back")
    assert participant(db).status == "active"


@pytest.mark.parametrize(
    "text",
    ["", "   ", "😀😀😀", "x" * 2000, "\x00\x1b[31m", "1" * 500, "STOP" * 300],
)
def test_bad_input_from_an_unknown_number_gets_a_sensible_reply(phone, db, text):
    replies = phone.send(PHONE, text)
    assert replies, "every message from a person gets an answer"
    assert all(isinstance(r, str) and r for r in replies)
    with db.session() as session:
        stored = session.scalar(sa.select(m.InboundMessage.text))
    assert stored == text.replace("\x00", "")  # PostgreSQL cannot store NUL


def test_duplicate_provider_delivery_is_answered_once(services, organisation):
    from bot.messages import InboundMessage

    message = InboundMessage(
        sender=PHONE, text="JOIN", provider="twilio", provider_message_id="SM" + "a" * 32
    )
    first = services.engine.handle(message)
    second = services.engine.handle(message)
    assert first.replies and not first.duplicate
    assert second.duplicate and second.replies == []
    with services.db.session() as session:
        assert session.scalar(sa.select(sa.func.count(m.InboundMessage.id))) == 1
        queued = session.scalars(sa.select(m.OutboundMessage)).all()
    assert len(queued) == 1
    assert queued[0].to == PHONE and queued[0].provider == "twilio"
    assert queued[0].encoding == "GSM-7" and queued[0].segments >= 1
