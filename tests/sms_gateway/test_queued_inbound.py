"""The SMS webhooks in queued mode (`HEARD_INBOUND_MODE=queued`): stored and answered at
once, handled by `heard worker`; the checks before storing are the same as inline."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from heard.cli import main
from sms_gateway.worker import run_worker
from storage import models as m
from tests.heard.test_cli import env_for
from tests.sms_gateway.test_views import (
    PHONE,
    at_post,
    count,
    sms,
    twilio_post,
    with_providers,
)


@pytest.fixture
def settings(settings):
    return with_providers(settings).with_overrides(inbound_mode="queued")


def test_the_webhook_stores_the_message_and_answers_before_the_engine(
    client, db, organisation, services
) -> None:
    response = twilio_post(client, "/sms/twilio", sms("SM1", "JOIN"))

    assert response.status_code == 200
    assert response.get_data(as_text=True).endswith("<Response/>")
    with db.session() as session:
        [inbound] = session.scalars(sa.select(m.InboundMessage)).all()
        assert (inbound.text, inbound.sender, inbound.processed_at) == ("JOIN", PHONE, None)
        assert inbound.organisation_id == organisation.id
    assert count(db, m.OutboundMessage) == 0 and count(db, m.Participant) == 0

    run_worker(services, once=True, only="inbox")

    with db.session() as session:
        [reply] = session.scalars(sa.select(m.OutboundMessage)).all()
        inbound = session.scalar(sa.select(m.InboundMessage))
        assert "Reply YES to agree" in reply.text
        assert (reply.to, reply.status, reply.in_reply_to_id) == (PHONE, "queued", inbound.id)
        assert inbound.processed_at is not None
        assert inbound.participant_id == session.scalar(sa.select(m.Participant.id))


def test_a_forged_signature_stores_nothing(client, db, organisation) -> None:
    response = twilio_post(client, "/sms/twilio", sms("SM1", "JOIN"), token="not-the-token")
    assert response.status_code == 403
    assert count(db, m.InboundMessage) == 0


def test_a_duplicate_delivery_is_stored_once(client, db, organisation, services) -> None:
    for _ in range(3):
        assert twilio_post(client, "/sms/twilio", sms("SM1", "JOIN")).status_code == 200
    assert count(db, m.InboundMessage) == 1
    run_worker(services, once=True, only="inbox")
    assert twilio_post(client, "/sms/twilio", sms("SM1", "JOIN")).status_code == 200
    assert count(db, m.InboundMessage) == 1 and count(db, m.OutboundMessage) == 1


def test_africastalking_premium_reply_keeps_its_link_id(client, db, organisation, services):
    form = {
        "id": "at-1",
        "from": PHONE,
        "to": "22384",
        "text": "JIUNGE",
        "date": "2026-12-07 10:00:00",
        "linkId": "SampleLinkId123",
    }
    assert at_post(client, "/sms/africastalking", form).status_code == 200
    assert at_post(client, "/sms/africastalking", form, token="wrong").status_code == 403
    run_worker(services, once=True, only="inbox")
    with db.session() as session:
        [reply] = session.scalars(sa.select(m.OutboundMessage)).all()
        assert (reply.provider, reply.link_id) == ("africastalking", "SampleLinkId123")
        assert session.scalar(sa.select(m.Participant.language)) == "sw"


def test_the_database_down_is_a_503_in_queued_mode_too(settings, clock) -> None:
    from heard.app import create_app
    from heard.services import Services

    down = settings.with_overrides(database_url="postgresql://nobody@127.0.0.1:1/heard")
    services = Services.build(down, clock=clock)
    try:
        client = create_app(down, services=services).test_client()
        response = at_post(
            client, "/sms/africastalking", {"id": "x", "from": PHONE, "text": "JOIN", "to": "1"}
        )
        assert response.status_code == 503
        assert response.headers["Retry-After"]
    finally:
        services.db.dispose()


def test_an_inbox_only_worker_needs_queued_mode(settings) -> None:
    env = env_for(settings)
    env["HEARD_SECRET_KEY"] = "k" * 32
    result = CliRunner().invoke(main, ["worker", "--only", "inbox", "--once"], env=env)
    assert result.exit_code == 2
    assert "--only inbox needs HEARD_INBOUND_MODE=queued" in result.output
    queued = {**env, "HEARD_INBOUND_MODE": "queued"}
    result = CliRunner().invoke(main, ["worker", "--only", "inbox", "--once"], env=queued)
    assert result.exit_code == 0, result.output
