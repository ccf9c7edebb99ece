"""The SMS webhooks through the Flask test client: signatures, organisations, duplicates,
delivery reports and a database that is down."""

from __future__ import annotations

import dataclasses
import threading
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from twilio.request_validator import RequestValidator

from heard.config import TwilioSettings
from storage import models as m
from storage import queries
from tests.conftest import is_postgres

PUBLIC = "https://heard.example.org"
TOKEN = "test-auth-token"
AT_TOKEN = "test-callback-token"
PHONE = "+254712345678"
OUR_NUMBER = "+15005550006"


def with_providers(settings):
    """The settings with the test providers' credentials, which the webhooks check."""
    return settings.with_overrides(
        public_url=PUBLIC,
        twilio=TwilioSettings("AC" + "0" * 32, TOKEN, OUR_NUMBER),
        at_callback_token=AT_TOKEN,
    )


@pytest.fixture
def settings(settings):
    return with_providers(settings)


def twilio_post(client, path: str, form: dict[str, str], *, token: str = TOKEN, base=PUBLIC):
    signature = RequestValidator(token).compute_signature(base + path, form)
    return client.post(
        path,
        data=urlencode(form),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
        },
    )


def sms(sid: str, body: str, *, sender: str = PHONE, to: str = OUR_NUMBER) -> dict[str, str]:
    return {"MessageSid": sid, "From": sender, "To": to, "Body": body, "NumMedia": "0"}


def count(db, model, *where) -> int:
    with db.session() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def test_inbound_queues_the_reply_and_answers_empty_twiml(client, db, organisation) -> None:
    response = twilio_post(client, "/sms/twilio", sms("SM1", "JOIN"))

    assert response.status_code == 200
    assert response.content_type.startswith("text/xml")
    assert response.get_data(as_text=True) == ('<?xml version="1.0" encoding="UTF-8"?><Response/>')
    with db.session() as session:
        [reply] = session.scalars(sa.select(m.OutboundMessage)).all()
        assert reply.status == "queued" and reply.provider == "twilio" and reply.to == PHONE
        assert "Reply YES to agree" in reply.text
        inbound = session.scalar(sa.select(m.InboundMessage))
        assert inbound.organisation_id == organisation.id
        assert reply.in_reply_to_id == inbound.id


def test_whatsapp_is_the_same_participant_on_another_channel(client, db, organisation) -> None:
    twilio_post(client, "/sms/twilio", sms("SM1", "JOIN"))
    response = twilio_post(
        client,
        "/sms/twilio",
        sms("SM2", "yes", sender="whatsapp:" + PHONE, to="whatsapp:" + OUR_NUMBER),
    )

    assert response.status_code == 200
    assert count(db, m.Participant) == 1
    with db.session() as session:
        participant = session.scalar(sa.select(m.Participant))
        assert participant.channel == "whatsapp" and participant.status == "active"
        last = session.scalars(sa.select(m.OutboundMessage).order_by(m.OutboundMessage.id)).all()
        assert last[-1].channel == "whatsapp"


def test_local_number_is_read_in_the_organisations_region(client, db, organisation) -> None:
    response = twilio_post(client, "/sms/twilio", sms("SM1", "JOIN", sender="0712 345 678"))
    assert response.status_code == 200
    with db.session() as session:
        assert session.scalar(sa.select(m.Participant.phone)) == PHONE


def test_channel_matching_to_picks_its_organisation(client, db, organisation) -> None:
    with db.session() as session:
        other = m.Organisation(slug="lilongwe", name="Lilongwe", default_region="MW")
        session.add(other)
        session.flush()
        session.add(m.Channel(organisation_id=other.id, provider="twilio", address="+15005550009"))
        other_id = other.id

    response = twilio_post(
        client, "/sms/twilio", sms("SM1", "JOIN", sender="0991 234 567", to="+15005550009")
    )

    assert response.status_code == 200, response.get_data(as_text=True)
    with db.session() as session:
        participant = session.scalar(sa.select(m.Participant))
        assert participant.organisation_id == other_id
        assert participant.phone == "+265991234567"  # Malawi's region, not Kenya's


def test_forged_signature_stores_nothing(client, db, organisation) -> None:
    response = twilio_post(client, "/sms/twilio", sms("SM1", "JOIN"), token="not-our-token")
    assert response.status_code == 403
    assert "X-Twilio-Signature" in response.get_data(as_text=True)
    assert count(db, m.InboundMessage) == 0 and count(db, m.Participant) == 0


def test_missing_signature_is_refused(client, db, organisation) -> None:
    response = client.post("/sms/twilio", data=sms("SM1", "JOIN"))
    assert response.status_code == 403
    assert "missing" in response.get_data(as_text=True)
    assert count(db, m.InboundMessage) == 0


def test_without_public_url_the_request_url_is_what_was_signed(
    settings, services, db, organisation
) -> None:
    from heard.app import create_app

    unset = settings.with_overrides(public_url=None)
    app = create_app(unset, services=dataclasses.replace(services, settings=unset))
    client = app.test_client()
    form = sms("SM1", "JOIN")
    assert twilio_post(client, "/sms/twilio", form).status_code == 403  # public URL signed
    response = twilio_post(client, "/sms/twilio", form, base="http://localhost")
    assert response.status_code == 200


def test_signature_covers_the_query_string(client, db, organisation) -> None:
    form = sms("SM1", "JOIN")
    signature = RequestValidator(TOKEN).compute_signature(PUBLIC + "/sms/twilio", form)
    response = client.post(
        "/sms/twilio?org=2", data=form, headers={"X-Twilio-Signature": signature}
    )
    assert response.status_code == 403


def test_malformed_payload_is_a_400_with_reason(client, db, organisation) -> None:
    response = twilio_post(client, "/sms/twilio", {"From": PHONE, "Body": "JOIN"})
    assert response.status_code == 400
    assert "MessageSid" in response.get_data(as_text=True)
    assert count(db, m.InboundMessage) == 0


@pytest.mark.parametrize("body", ["x" * 2000, "Ndiyo 👍🏾 asante sana 🌳🌳", "a\x00b"])
def test_long_emoji_and_nul_bodies_are_stored(client, db, organisation, body: str) -> None:
    response = twilio_post(client, "/sms/twilio", sms("SM1", body))
    assert response.status_code == 200
    with db.session() as session:
        assert session.scalar(sa.select(m.InboundMessage.text)) == body.replace("\x00", "")


def test_duplicate_webhook_is_answered_once(client, db, organisation) -> None:
    for _ in range(3):
        assert twilio_post(client, "/sms/twilio", sms("SM1", "JOIN")).status_code == 200
    assert count(db, m.InboundMessage) == 1
    assert count(db, m.OutboundMessage) == 1


def test_racing_duplicates_are_answered_once(app, db, organisation) -> None:
    """Twilio retries while the first request is still running: two threads, one answer.

    On SQLite the write lock serialises them; on PostgreSQL the unique provider id does."""
    form = sms("SMrace", "JOIN")
    barrier = threading.Barrier(4)
    statuses: list[int] = []

    def fire() -> None:
        client = app.test_client()
        barrier.wait()
        statuses.append(twilio_post(client, "/sms/twilio", form).status_code)

    threads = [threading.Thread(target=fire) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert statuses == [200, 200, 200, 200]
    assert count(db, m.InboundMessage) == 1
    assert count(db, m.OutboundMessage) == 1
    assert count(db, m.Participant) == 1


def test_no_organisation_is_a_503_after_authentication(client, db) -> None:
    assert twilio_post(client, "/sms/twilio", sms("SM1", "JOIN")).status_code == 503
    assert twilio_post(client, "/sms/twilio", sms("SM1", "JOIN"), token="x").status_code == 403
    assert count(db, m.InboundMessage) == 0


def test_database_down_is_a_503_not_a_500(settings, clock) -> None:
    from heard.app import create_app
    from heard.services import Services

    down = settings.with_overrides(database_url="postgresql://nobody@127.0.0.1:1/heard")
    services = Services.build(down, clock=clock)
    try:
        client = create_app(down, services=services).test_client()
        response = twilio_post(client, "/sms/twilio", sms("SM1", "JOIN"))
        assert response.status_code == 503
        assert response.headers["Retry-After"]
        response = client.post(
            "/sms/africastalking?token=" + AT_TOKEN,
            data={"id": "x", "from": PHONE, "text": "JOIN", "to": "22384"},
        )
        assert response.status_code == 503
    finally:
        services.db.dispose()


# --- delivery reports ---------------------------------------------------------------------


def sent_row(db, organisation, provider: str, sid: str, *, participant_id=None) -> int:
    with db.session() as session:
        [row] = queries.add_outbound(
            session,
            [
                m.OutboundMessage(
                    organisation_id=organisation.id,
                    participant_id=participant_id,
                    provider=provider,
                    to=PHONE,
                    text="Is the water point working?",
                    status="sent",
                    provider_message_id=sid,
                )
            ],
        )
        queries.record_status(session, row, "sent")  # as the worker records a send
        return row.id


def history(db, row_id: int) -> list[tuple[str, str | None]]:
    with db.session() as session:
        rows = session.execute(
            sa.select(m.MessageStatusEvent.status, m.MessageStatusEvent.error_code)
            .where(m.MessageStatusEvent.outbound_message_id == row_id)
            .order_by(m.MessageStatusEvent.id)
        ).all()
    return [tuple(r) for r in rows]


def status(db, row_id: int) -> str:
    with db.session() as session:
        return session.get(m.OutboundMessage, row_id).status


def test_twilio_status_callbacks_keep_the_history(client, db, organisation) -> None:
    row_id = sent_row(db, organisation, "twilio", "SMabc")
    for word in ("sent", "delivered", "sent"):  # the late "sent" must not undo "delivered"
        form = {"MessageSid": "SMabc", "MessageStatus": word, "From": OUR_NUMBER}
        assert twilio_post(client, "/sms/twilio/status", form).status_code == 200

    assert status(db, row_id) == "delivered"
    assert [s for s, _ in history(db, row_id)] == ["sent", "sent", "delivered", "sent"]


def test_status_for_an_unknown_sid_is_ignored(client, db, organisation) -> None:
    form = {"MessageSid": "SMnobody", "MessageStatus": "delivered"}
    assert twilio_post(client, "/sms/twilio/status", form).status_code == 200
    assert count(db, m.MessageStatusEvent) == 0


def test_forged_status_callback_changes_nothing(client, db, organisation) -> None:
    row_id = sent_row(db, organisation, "twilio", "SMabc")
    form = {"MessageSid": "SMabc", "MessageStatus": "failed", "ErrorCode": "30003"}
    assert twilio_post(client, "/sms/twilio/status", form, token="forged").status_code == 403
    assert status(db, row_id) == "sent" and len(history(db, row_id)) == 1


def active_participant(db, organisation, phone: str = PHONE) -> int:
    with db.session() as session:
        person = m.Participant(
            organisation_id=organisation.id,
            phone=phone,
            status="active",
            consent_version=1,
            provider="twilio",
        )
        session.add(person)
        session.flush()
        return person.id


def test_21610_status_opts_the_participant_out(client, db, organisation) -> None:
    person = active_participant(db, organisation)
    row_id = sent_row(db, organisation, "twilio", "SMabc", participant_id=person)
    waiting = sent_row(db, organisation, "twilio", "SMnext", participant_id=person)
    with db.session() as session:
        session.get(m.OutboundMessage, waiting).status = "queued"

    form = {"MessageSid": "SMabc", "MessageStatus": "failed", "ErrorCode": "21610"}
    assert twilio_post(client, "/sms/twilio/status", form).status_code == 200

    assert history(db, row_id)[-1] == ("failed", "21610")
    assert status(db, waiting) == "cancelled"
    with db.session() as session:
        assert session.get(m.Participant, person).status == "opted_out"


def at_post(client, path: str, form: dict[str, str], *, token: str | None = AT_TOKEN):
    query = f"?token={token}" if token is not None else ""
    return client.post(path + query, data=form)


def test_at_inbound_is_handled(client, db, organisation) -> None:
    form = {"id": "at-1", "from": PHONE, "to": "22384", "text": "JIUNGE", "date": "x"}
    response = at_post(client, "/sms/africastalking", form)
    assert response.status_code == 200 and response.get_data() == b""
    with db.session() as session:
        [reply] = session.scalars(sa.select(m.OutboundMessage)).all()
        assert reply.provider == "africastalking"
        assert session.scalar(sa.select(m.Participant.language)) == "sw"


@pytest.mark.parametrize("token", [None, "", "test-callback-tokeN"])
def test_at_wrong_or_missing_token_stores_nothing(client, db, organisation, token) -> None:
    form = {"id": "at-1", "from": PHONE, "to": "22384", "text": "JIUNGE"}
    response = at_post(client, "/sms/africastalking", form, token=token)
    assert response.status_code == 403
    assert count(db, m.InboundMessage) == 0 and count(db, m.Participant) == 0


def test_at_delivery_report_and_blacklist(client, db, organisation) -> None:
    person = active_participant(db, organisation)
    first = sent_row(db, organisation, "africastalking", "ATXid_1", participant_id=person)
    second = sent_row(db, organisation, "africastalking", "ATXid_2", participant_id=person)

    ok = {"id": "ATXid_1", "status": "Success", "phoneNumber": PHONE, "retryCount": "0"}
    assert at_post(client, "/sms/africastalking/delivery", ok).status_code == 200
    assert status(db, first) == "delivered"

    blocked = {"id": "ATXid_2", "status": "Rejected", "failureReason": "UserInBlackList"}
    assert at_post(client, "/sms/africastalking/delivery", blocked).status_code == 200
    assert history(db, second)[-1] == ("failed", "UserInBlackList")
    with db.session() as session:
        assert session.get(m.Participant, person).status == "opted_out"

    bad = {"id": "ATXid_1", "status": "Eaten"}
    response = at_post(client, "/sms/africastalking/delivery", bad)
    assert response.status_code == 400 and "unknown status" in response.get_data(as_text=True)


@pytest.mark.skipif(not is_postgres(), reason="the SKIP LOCKED race needs PostgreSQL")
def test_postgres_racing_duplicates_from_many_threads(app, db, organisation) -> None:
    form = sms("SMpg", "JOIN", sender="+254712000001")
    barrier = threading.Barrier(8)
    statuses: list[int] = []

    def fire() -> None:
        barrier.wait()
        statuses.append(twilio_post(app.test_client(), "/sms/twilio", form).status_code)

    threads = [threading.Thread(target=fire) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert statuses == [200] * 8
    assert count(db, m.InboundMessage) == 1 and count(db, m.OutboundMessage) == 1
