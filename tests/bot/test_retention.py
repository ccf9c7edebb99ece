"""Retention blanks old texts per organisation and keeps the answers' values."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from bot.retention import RetentionReport, apply_retention
from storage import models as m
from tests.bot.conversation import PHONE, answers, onboard, update_organisation


def test_old_texts_are_blanked_and_answers_kept(phone, db, clock, organisation):
    update_organisation(
        db, organisation.id, retention_days=30, session_timeout_minutes=60 * 24 * 25
    )
    onboard(phone)
    phone.send(PHONE, "2")  # works: no
    clock.advance(days=20)
    phone.send(PHONE, "12")  # days_broken: 12, twenty days later
    with db.session() as session:
        session.add(
            m.OutboundMessage(
                organisation_id=organisation.id,
                to=PHONE,
                text="still waiting to be sent",
                status="queued",
                created_at=clock.now() - timedelta(days=60),
            )
        )

    clock.advance(days=15)  # the first messages are now 35 days old, the last 15
    with db.session() as session:
        report = apply_retention(session, clock.now())
    assert report == RetentionReport(
        organisations=1, inbound_blanked=7, outbound_blanked=0, answers_blanked=1
    )
    with db.session() as session:
        inbound = session.scalars(sa.select(m.InboundMessage.text).order_by(m.InboundMessage.id))
        raw = dict(session.execute(sa.select(m.Answer.question_key, m.Answer.raw_text)).all())
        unsent = session.scalar(
            sa.select(m.OutboundMessage.text).where(m.OutboundMessage.status == "queued")
        )
        assert list(inbound) == [None] * 7 + ["12"]
    assert raw == {"works": None, "days_broken": "12"}
    assert answers(db) == {"works": "no", "days_broken": 12}
    assert unsent == "still waiting to be sent"  # unsent messages are never blanked

    with db.session() as session:  # running it again changes nothing
        again = apply_retention(session, clock.now())
    assert (again.inbound_blanked, again.answers_blanked) == (0, 0)


def test_sent_outbound_texts_are_blanked(db, clock, organisation):
    with db.session() as session:
        session.add(
            m.OutboundMessage(
                organisation_id=organisation.id,
                to=PHONE,
                text="Is the water point working?",
                status="delivered",
                created_at=clock.now() - timedelta(days=400),
            )
        )
    with db.session() as session:
        report = apply_retention(session, clock.now())
    assert report.outbound_blanked == 1
    with db.session() as session:
        assert session.scalar(sa.select(m.OutboundMessage.text)) == ""
