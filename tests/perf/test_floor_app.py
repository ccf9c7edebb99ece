"""benchmarks.floor compares Heard's webhook with a bare-stack one (benchmarks/_floor_app.py)
that claims to do the database work of a poll answer with no engine. That comparison is
only honest while the claim holds, so these check it: a signed answer stores the message,
the answer and the queued reply and advances the session; a forged one stores nothing; a
provider's retry answers nothing twice; the set-wise variant writes the same rows."""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa
from twilio.request_validator import RequestValidator

from benchmarks import _population as population
from benchmarks._floor_app import Floor, answer_batch, create_app
from benchmarks.launch import seed_participants
from bot.outreach import create_launch, launch
from storage import models as m
from storage import queries

TOKEN = "floor-token"
PUBLIC_URL = "http://127.0.0.1:8099"


@pytest.fixture
def launched(organisation, db, database_url, monkeypatch) -> str:
    """Three consented people with the demo poll's first question open."""
    seed_participants(database_url, 3)
    with db.session() as session:
        version_id = session.scalar(sa.select(m.PollVersion.id))
        now = datetime(2026, 12, 7, 9, 0)
        launch(session, create_launch(session, organisation.id, version_id, {}, now=now).id, now)
    monkeypatch.setenv("HEARD_DATABASE_URL", database_url)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    monkeypatch.setenv("HEARD_PUBLIC_URL", PUBLIC_URL)
    return database_url


@pytest.fixture
def client(launched):
    app = create_app()
    yield app.test_client()
    app.extensions["floor"].engine.dispose()


def post(client, form: dict[str, str], *, signature: str | None = None):
    signed = RequestValidator(TOKEN).compute_signature(PUBLIC_URL + "/floor/reply", form)
    return client.post(
        "/floor/reply", data=form, headers={"X-Twilio-Signature": signature or signed}
    )


def answer_form(sid: str, index: int = 0) -> dict[str, str]:
    return {"MessageSid": sid, "From": population.phone(index), "To": "+15005550006", "Body": "1"}


def counts(db) -> dict[str, int]:
    with db.session() as session:
        return {
            "inbound": session.scalar(sa.select(sa.func.count(m.InboundMessage.id))),
            "answers": session.scalar(sa.select(sa.func.count(m.Answer.id))),
            "replies": session.scalar(
                sa.select(sa.func.count(m.OutboundMessage.id)).where(m.OutboundMessage.is_reply)
            ),
        }


def test_a_signed_answer_does_an_answers_writes(client, db):
    with db.session() as session:
        sender = session.scalar(
            sa.select(m.Participant).where(m.Participant.phone == population.phone(0))
        )
        step_before = queries.active_session(session, sender.id).step

    assert post(client, answer_form("SMfloor1")).status_code == 200

    assert counts(db) == {"inbound": 1, "answers": 1, "replies": 1}
    with db.session() as session:
        answer = session.scalar(sa.select(m.Answer))
        reply = session.scalar(sa.select(m.OutboundMessage).where(m.OutboundMessage.is_reply))
        inbound = session.scalar(sa.select(m.InboundMessage))
        assert (answer.participant_id, answer.question_key) == (sender.id, step_before)
        assert (reply.to, reply.in_reply_to_id, reply.status) == (
            sender.phone,
            inbound.id,
            "queued",
        )
        assert queries.active_session(session, sender.id).step != step_before
        assert session.get(m.Participant, sender.id).last_seen_at is not None


def test_a_forged_or_repeated_answer_adds_nothing(client, db):
    forged = post(client, answer_form("SMfloor2"), signature="forged")
    assert forged.status_code == 403
    assert counts(db) == {"inbound": 0, "answers": 0, "replies": 0}

    assert post(client, answer_form("SMfloor3")).status_code == 200
    assert post(client, answer_form("SMfloor3")).status_code == 200  # the provider's retry
    assert counts(db) == {"inbound": 1, "answers": 1, "replies": 1}


def test_the_set_wise_variant_writes_the_same_rows(launched, db):
    floor = Floor(launched)
    try:
        with floor.engine.begin() as connection:
            accepted = []
            for index in (1, 2):
                form = answer_form(f"SMbatch{index}", index)
                accepted.append({"id": floor.accept(connection, form), **form})
            assert answer_batch(connection, floor, accepted) == 2
    finally:
        floor.engine.dispose()

    assert counts(db) == {"inbound": 2, "answers": 2, "replies": 2}
    with db.session() as session:
        unprocessed = session.scalar(
            sa.select(sa.func.count(m.InboundMessage.id)).where(
                m.InboundMessage.processed_at.is_(None)
            )
        )
        assert unprocessed == 0
