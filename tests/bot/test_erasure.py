"""DELETE: confirm, then remove personal data and keep pseudonymous aggregates."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from storage import models as m
from tests.bot.conversation import PHONE, answers, onboard, participant, sessions, text


def the_only_participant(db) -> m.Participant:
    with db.session() as session:
        (person,) = session.scalars(sa.select(m.Participant)).all()
        return person


@pytest.mark.parametrize(
    ("join", "yes", "delete", "confirm"),
    [
        ("JOIN", "yes", "DELETE", "YES"),
        ("JIUNGE", "ndiyo", "futa", "ndiyo"),
        ("tham gia", "có", "xóa", "có"),
        ("जुड़ें", "हाँ", "हटाएं", "हाँ"),
    ],
)
def test_delete_confirmed_erases_personal_data(phone, db, multilingual, join, yes, delete, confirm):
    phone.send(PHONE, join)
    phone.send(PHONE, yes)
    for reply in ("1", "3", "2", "Ngiluni"):  # a full profile
        phone.send(PHONE, reply)
    phone.send(PHONE, "2")  # answers "works": no
    language = participant(db).language

    (ask,) = phone.send(PHONE, delete)
    assert ask == text("delete.ask_confirm", language)
    (done,) = phone.send(PHONE, confirm)
    assert done == text("delete.done", language)

    person = the_only_participant(db)
    assert person.phone is None and person.status == "erased" and person.erased_at is not None
    profile = (person.gender, person.age_band, person.disability, person.village)
    assert profile == (None, None, None, None)
    with db.session() as session:
        inbound = session.execute(sa.select(m.InboundMessage.text, m.InboundMessage.sender)).all()
        outbound = session.execute(sa.select(m.OutboundMessage.text, m.OutboundMessage.to)).all()
        answer = session.scalar(sa.select(m.Answer))
        decisions = session.scalars(
            sa.select(m.ConsentRecord.decision).order_by(m.ConsentRecord.id)
        ).all()
        live = session.scalar(
            sa.select(sa.func.count()).where(m.ConversationSession.status.in_(("active", "queued")))
        )
    assert set(inbound) == {(None, None)}
    # The console channel answers inline; over SMS only the goodbye keeps its number.
    assert all(t == "" and to is None for t, to in outbound)
    assert (answer.value, answer.raw_text, answer.participant_id) == ("no", None, person.id)
    assert decisions == ["granted", "withdrawn"]
    assert live == 0
    assert answers(db) == {"works": "no"}


def test_the_same_number_afterwards_is_a_newcomer(phone, db):
    onboard(phone)
    phone.send(PHONE, "DELETE")
    phone.send(PHONE, "yes")
    (reply,) = phone.send(PHONE, "hello")
    assert reply == text("consent.request")
    with db.session() as session:
        statuses = session.scalars(sa.select(m.Participant.status).order_by(m.Participant.id)).all()
    assert statuses == ["erased", "pending_consent"]


@pytest.mark.parametrize("answer", ["NO", "2", "hapana"])
def test_delete_declined_changes_nothing_and_the_poll_resumes(phone, db, answer):
    onboard(phone)
    phone.send(PHONE, "DELETE")
    kept, question = phone.send(PHONE, answer)
    assert kept == text("delete.kept")
    assert question.startswith("Is the water point working?")
    person = participant(db)
    assert person.status == "active" and person.phone == PHONE
    assert ("erasure", "completed") in sessions(db)


def test_unclear_reply_to_delete_never_erases(phone, db):
    onboard(phone)
    phone.send(PHONE, "DELETE")
    phone.send(PHONE, "maybe")
    phone.send(PHONE, "what")
    kept, _ = phone.send(PHONE, "hmm")
    assert kept == text("delete.kept")
    assert participant(db).status == "active"


def test_erasure_over_sms_still_sends_the_goodbye(services, organisation):
    from bot.messages import Channel, InboundMessage

    for n, words in enumerate(["JOIN", "yes", "DELETE", "yes"]):
        services.engine.handle(
            InboundMessage(
                sender=PHONE,
                text=words,
                channel=Channel.SMS,
                provider="twilio",
                provider_message_id=f"SM{n:032d}",
            )
        )
    with services.db.session() as session:
        rows = session.execute(
            sa.select(
                m.OutboundMessage.to, m.OutboundMessage.text, m.OutboundMessage.status
            ).order_by(m.OutboundMessage.id)
        ).all()
    *earlier, goodbye = rows
    assert goodbye == (PHONE, text("delete.done"), "queued")
    # Replies not yet sent were cancelled; their text and number are gone.
    assert all(to is None and body == "" for to, body, _ in earlier)
