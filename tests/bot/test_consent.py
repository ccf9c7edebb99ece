"""Consent is versioned; declining means never polled; opt-out cancels what is pending."""

from __future__ import annotations

import sqlalchemy as sa

from bot import consent
from bot.session import queue_poll
from storage import models as m
from tests.bot.conversation import PHONE, onboard, participant, sessions, update_organisation

QUESTION = "Is the water point working?"


def consent_records(db) -> list[tuple[str, int]]:
    with db.session() as session:
        rows = session.execute(
            sa.select(m.ConsentRecord.decision, m.ConsentRecord.version).order_by(
                m.ConsentRecord.id
            )
        ).all()
    return [(decision, version) for decision, version in rows]


def test_a_new_consent_version_is_asked_before_anything_else(phone, db, organisation):
    onboard(phone)
    update_organisation(db, organisation.id, consent_version=2)

    (request,) = phone.send(PHONE, "1")  # meant as an answer; the new text comes first
    assert "Reply YES to agree" in request
    assert participant(db).status == "pending_consent"
    assert sessions(db)[-2:] == [("poll", "queued"), ("consent", "active")]
    with db.session() as session:
        assert session.scalar(sa.select(sa.func.count(m.Answer.id))) == 0

    thanks, question = phone.send(PHONE, "yes")
    assert thanks.startswith("Thank you for joining")
    assert question.startswith(QUESTION)  # the poll resumes; the profile is not asked again
    person = participant(db)
    assert (person.status, person.consent_version) == ("active", 2)
    assert consent_records(db) == [("granted", 1), ("granted", 2)]


def test_declining_a_new_version_cancels_waiting_polls(phone, db, organisation):
    onboard(phone)
    update_organisation(db, organisation.id, consent_version=2)
    phone.send(PHONE, "hello")
    (declined,) = phone.send(PHONE, "no")
    assert "we will not send you questions" in declined
    assert participant(db).status == "declined"
    assert all(status not in ("active", "queued") for _, status in sessions(db))
    assert consent_records(db) == [("granted", 1), ("declined", 2)]


def test_declined_participant_is_never_queued_a_poll(phone, db, organisation):
    phone.send(PHONE, "JOIN")
    phone.send(PHONE, "hapana")
    with db.session() as session:
        person = session.scalar(sa.select(m.Participant))
        version_id = session.scalar(sa.select(m.PollVersion.id))
        assert queue_poll(session, person, version_id, now=person.created_at) is None


def test_unclear_consent_reply_is_reasked(phone, db):
    phone.send(PHONE, "JOIN")
    assert phone.send(PHONE, "what is this?") == ["Please reply YES to take part or NO to decline."]
    assert participant(db).status == "pending_consent"


def test_opt_out_cancels_sessions_and_unsent_messages(phone, db, clock):
    onboard(phone)
    with db.session() as session:
        person = session.scalar(sa.select(m.Participant))
        session.add(
            m.OutboundMessage(
                organisation_id=person.organisation_id,
                participant_id=person.id,
                to=person.phone,
                text="A launch message",
                status="queued",
                is_reply=False,
            )
        )
        session.flush()
        assert consent.opt_out(session, person, clock.now(), source="provider") is True
        assert consent.opt_out(session, person, clock.now(), source="provider") is False
    with db.session() as session:
        statuses = session.scalars(sa.select(m.OutboundMessage.status)).all()
        audit = session.scalars(sa.select(m.AuditEvent.detail)).all()
    assert "queued" not in statuses and "cancelled" in statuses
    assert audit == [{"source": "provider"}]
    assert participant(db).status == "opted_out"
    assert all(status not in ("active", "queued") for _, status in sessions(db))
    assert phone.send(PHONE, "1") == []


def test_start_after_an_opt_out_before_consent_asks_for_consent(phone, db):
    phone.send(PHONE, "JOIN")
    phone.send(PHONE, "STOP")
    assert participant(db).status == "opted_out"
    (request,) = phone.send(PHONE, "START")
    assert "Reply YES to agree" in request
    assert participant(db).status == "pending_consent"
