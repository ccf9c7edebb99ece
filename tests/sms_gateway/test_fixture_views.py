"""Every captured webhook in tests/fixtures/webhooks replayed through the Flask views.

Accepted inbound messages must be stored as parsed; accepted delivery reports must update
the message they name; rejected requests must leave every table exactly as it was.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from heard.config import TwilioSettings
from storage import models as m
from storage import queries

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "webhooks"
STATUS_PATHS = {"/sms/twilio/status", "/sms/africastalking/delivery"}


@pytest.fixture
def settings(settings):
    return settings.with_overrides(
        public_url="https://heard.example.org",
        twilio=TwilioSettings("AC" + "0" * 32, "test-auth-token", "+15005550006"),
        at_callback_token="test-callback-token",
    )


def row_counts(db) -> dict[str, int]:
    with db.session() as session:
        return {
            table.name: session.scalar(sa.select(sa.func.count()).select_from(table))
            for table in m.Base.metadata.sorted_tables
        }


def post(client, fixture: dict[str, Any]):
    url = fixture["path"] + (f"?{fixture['query']}" if fixture["query"] else "")
    return client.post(url, data=fixture["body"].encode(), headers=fixture["headers"])


def seed_sent(db, organisation, provider: str, provider_id: str) -> int:
    """The outbound message a delivery report is about, as the worker left it."""
    with db.session() as session:
        [row] = queries.add_outbound(
            session,
            [
                m.OutboundMessage(
                    organisation_id=organisation.id,
                    provider=provider,
                    to="+254712345678",
                    text="Is the water point working?",
                    status="sent",
                    provider_message_id=provider_id,
                )
            ],
        )
        queries.record_status(session, row, "sent")  # as the worker records a send
        return row.id


def _cases() -> list[Any]:
    return [
        pytest.param(path, id=f"{path.parent.name}/{path.stem}")
        for path in sorted(FIXTURES.glob("*/*.json"))
    ]


@pytest.mark.parametrize("path", _cases())
def test_fixture_through_the_views(path: Path, client, db, organisation) -> None:
    fixture = json.loads(path.read_text(encoding="utf-8"))
    expected = fixture["expected"]
    provider = path.parent.name
    update = expected.get("status_update") or {}
    seeded = (
        seed_sent(db, organisation, provider, update["provider_id"])
        if fixture["path"] in STATUS_PATHS and update
        else None
    )
    before = row_counts(db)

    response = post(client, fixture)

    assert response.status_code == expected["status"], response.get_data(as_text=True)
    if expected["status"] >= 400:
        assert expected["reason_contains"] in response.get_data(as_text=True)
        assert row_counts(db) == before, "a rejected webhook stored something"
        return
    if provider == "twilio":
        assert response.mimetype == "text/xml"
        assert response.get_data(as_text=True).endswith("<Response/>")
    if seeded is not None:
        assert_status_recorded(db, seeded, update)
    else:
        assert_inbound_stored(db, expected["message"])


def assert_inbound_stored(db, message: dict[str, Any]) -> None:
    with db.session() as session:
        row = session.scalar(
            sa.select(m.InboundMessage).where(
                m.InboundMessage.provider_message_id == message["provider_message_id"]
            )
        )
        assert row is not None, "the accepted message was not stored"
        assert row.provider == message["provider"]
        assert row.sender == message["sender"]
        assert row.text == message["text"]
        assert row.channel == message["channel"]
        participant = session.get(m.Participant, row.participant_id)
        assert participant.phone == message["sender"]


def assert_status_recorded(db, row_id: int, update: dict[str, Any]) -> None:
    with db.session() as session:
        row = session.get(m.OutboundMessage, row_id)
        history = session.scalars(
            sa.select(m.MessageStatusEvent.status)
            .where(m.MessageStatusEvent.outbound_message_id == row_id)
            .order_by(m.MessageStatusEvent.id)
        ).all()
    assert history[-1] == update["status"]
    assert history[0] == "sent", "the earlier history is kept"
    if update["status"] != "sent":
        assert row.status == update["status"]
    if update.get("error_code"):
        assert row.error_code == update["error_code"]
