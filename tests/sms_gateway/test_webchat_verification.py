"""Web chat identity: a phone number proved by SMS code, or anonymous where allowed.

The code travels the real way: an outbox row, `drain_once`, the official Twilio SDK, and
the fake Twilio server, where the test reads it like a person reads their phone.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from heard.config import TwilioSettings
from sms_gateway import verification
from sms_gateway.worker import drain_once
from storage import models as m

PHONE = "+254712345678"
LOCAL = "0712 345 678"
FROM = "+15005550006"
START = "/chat/ngiluni/api/verify/start"
CHECK = "/chat/ngiluni/api/verify/check"
MESSAGE = "/chat/ngiluni/api/message"


@pytest.fixture
def settings(settings, fake_twilio):
    return settings.with_overrides(
        twilio=TwilioSettings(fake_twilio.account_sid, fake_twilio.auth_token, FROM),
        twilio_api_base=fake_twilio.url,
    )


def count(db, model) -> int:
    with db.session() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(model))


def received_code(services, fake_twilio, to: str = PHONE) -> str:
    """Send what the outbox holds, then read the newest code the phone received."""
    drain_once(services)
    bodies = [message["body"] for message in fake_twilio.messages if message["to"] == to]
    assert bodies, "no code reached the phone"
    [code] = re.findall(r"\b\d{6}\b", bodies[-1])
    return code


def other(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_a_verified_browser_speaks_as_the_phone_participant(
    client, db, services, organisation, fake_twilio, clock
) -> None:
    clock.set(datetime(2026, 1, 5, 19, 30))  # 22:30 in Nairobi: quiet hours hold no code
    started = client.post(START, json={"phone": LOCAL})
    assert started.status_code == 202
    assert started.get_json() == {"sent": True, "phone": "+2547•••••678", "expires_in": 600}

    code = received_code(services, fake_twilio)
    [sms] = fake_twilio.messages
    assert (
        sms["from"] == FROM
        and sms["body"] == f"Your Heard code is {code}. It expires in 10 minutes."
    )
    with db.session() as session:
        [row] = session.scalars(sa.select(m.VerificationCode))
        assert code not in row.code_hash and row.phone == PHONE
        [outbound] = session.scalars(sa.select(m.OutboundMessage))
        assert (outbound.provider, outbound.is_reply, outbound.status) == ("twilio", True, "sent")

    wrong = client.post(CHECK, json={"code": other(code)})
    assert wrong.status_code == 400
    assert wrong.get_json()["attempts_left"] == verification.MAX_ATTEMPTS - 1

    right = client.post(CHECK, json={"code": code})
    assert right.status_code == 200
    assert right.get_json() == {"verified": True, "phone": "+2547•••••678"}
    assert "+2547•••••678" in client.get("/chat/ngiluni").get_data(as_text=True)

    replies = client.post(MESSAGE, json={"text": "JOIN"}).get_json()["replies"]
    assert "Reply YES to agree" in replies[0]
    with db.session() as session:
        [participant] = session.scalars(sa.select(m.Participant))
        assert participant.phone == PHONE
        # Outreach still goes by SMS: a closed browser tab must not swallow a poll.
        assert (participant.provider, participant.channel) == ("twilio", "sms")
        [inbound] = session.scalars(sa.select(m.InboundMessage))
        assert (inbound.sender, inbound.participant_id) == (PHONE, participant.id)
        identity = session.scalar(sa.select(m.WebIdentity))
        assert identity.participant_id == participant.id and identity.visitor.startswith("web:")
        [audit] = session.scalars(
            sa.select(m.AuditEvent).where(m.AuditEvent.action == "webchat.verified")
        )
        assert audit.target == participant.pseudonym and PHONE not in str(audit.detail)
    # The web chat's replies were shown in the page, never texted.
    drain_once(services)
    assert len(fake_twilio.messages) == 1


def test_sms_and_web_chat_share_one_conversation_and_one_consent(
    client, db, services, organisation, fake_twilio
) -> None:
    services.engine.handle(_sms(PHONE, "JOIN", "SM1"))
    services.engine.handle(_sms(PHONE, "YES", "SM2"))
    client.post(START, json={"phone": PHONE})
    client.post(CHECK, json={"code": received_code(services, fake_twilio)})

    replies = client.post(MESSAGE, json={"text": "HELP"}).get_json()["replies"]
    assert "Reply YES to agree" not in " ".join(replies)  # consent given by SMS counts
    with db.session() as session:
        assert count(db, m.Participant) == 1
        participant = session.scalar(sa.select(m.Participant))
        assert participant.status == "active"
        assert len(list(session.scalars(sa.select(m.ConsentRecord)))) == 1


def _sms(phone: str, text: str, sid: str):
    from bot.messages import InboundMessage

    return InboundMessage(sender=phone, text=text, provider="twilio", provider_message_id=sid)


def test_attempts_are_counted_and_capped(client, services, organisation, fake_twilio) -> None:
    client.post(START, json={"phone": PHONE})
    code = received_code(services, fake_twilio)
    for left in range(verification.MAX_ATTEMPTS - 1, -1, -1):
        response = client.post(CHECK, json={"code": other(code)})
        assert response.status_code == 400 and response.get_json()["attempts_left"] == left
    locked = client.post(CHECK, json={"code": code})
    assert locked.status_code == 429 and "new one" in locked.get_json()["error"]


def test_an_expired_code_is_refused(client, db, services, organisation, fake_twilio, clock) -> None:
    client.post(START, json={"phone": PHONE})
    code = received_code(services, fake_twilio)
    clock.advance(verification.CODE_TTL + timedelta(seconds=1))
    response = client.post(CHECK, json={"code": code})
    assert response.status_code == 410 and "expired" in response.get_json()["error"]
    assert count(db, m.WebIdentity) == 0


def test_a_code_works_once_and_the_newest_code_wins(
    client, services, organisation, fake_twilio
) -> None:
    client.post(START, json={"phone": PHONE})
    first = received_code(services, fake_twilio)
    client.post(START, json={"phone": PHONE})
    second = received_code(services, fake_twilio)
    if first != second:
        assert client.post(CHECK, json={"code": first}).status_code == 400
    assert client.post(CHECK, json={"code": second}).status_code == 200
    assert client.post(CHECK, json={"code": second}).status_code == 409


def test_a_code_only_works_in_the_browser_that_asked(
    app, client, services, organisation, fake_twilio
) -> None:
    client.post(START, json={"phone": PHONE})
    code = received_code(services, fake_twilio)
    stranger = app.test_client()
    assert stranger.post(CHECK, json={"code": code}).status_code == 409
    stranger.post(START, json={"phone": "+254733000111"})
    if received_code(services, fake_twilio, "+254733000111") != code:  # 1 in a million
        assert stranger.post(CHECK, json={"code": code}).status_code == 400
    assert client.post(CHECK, json={"code": code}).status_code == 200


def test_codes_are_rate_limited_per_phone_and_per_browser(
    app, client, db, services, organisation, fake_twilio, clock
) -> None:
    for _ in range(verification.MAX_CODES):
        assert client.post(START, json={"phone": PHONE}).status_code == 202
    limited = client.post(START, json={"phone": PHONE})
    assert limited.status_code == 429 and limited.get_json()["error"]
    assert 0 < int(limited.headers["Retry-After"]) <= 3600
    # Another browser cannot send that phone more codes either...
    assert app.test_client().post(START, json={"phone": PHONE}).status_code == 429
    # ...and this browser cannot move on to other numbers.
    assert client.post(START, json={"phone": "+254733000111"}).status_code == 429
    assert count(db, m.VerificationCode) == verification.MAX_CODES

    clock.advance(verification.RATE_WINDOW + timedelta(seconds=1))
    assert client.post(START, json={"phone": PHONE}).status_code == 202
    assert count(db, m.VerificationCode) == 1  # the hour-old codes are purged
    drain_once(services)
    assert len(fake_twilio.messages) == verification.MAX_CODES + 1


def test_an_opted_out_number_gets_no_code(client, db, services, organisation, fake_twilio) -> None:
    services.engine.handle(_sms(PHONE, "JOIN", "SM1"))
    services.engine.handle(_sms(PHONE, "STOP", "SM2"))
    drain_once(services)
    texted, queued = len(fake_twilio.messages), count(db, m.OutboundMessage)
    # The same answer as for any number: the page must not tell who takes part.
    assert client.post(START, json={"phone": PHONE}).status_code == 202
    drain_once(services)
    assert len(fake_twilio.messages) == texted
    assert count(db, m.OutboundMessage) == queued
    assert client.post(CHECK, json={"code": "123456"}).status_code == 400


@pytest.mark.parametrize(
    ("path", "body", "reason"),
    [
        (START, None, "JSON object"),
        (START, {"phone": 712345678}, "non-empty string"),
        (START, {"phone": ""}, "non-empty string"),
        (START, {"phone": "hello"}, "not a phone number"),
        (START, {"phone": "0712"}, "not a phone number"),
        (START, {"phone": "1" * 2000}, "longer than"),
        (CHECK, None, "JSON object"),
        (CHECK, {"code": "12345"}, "6 digits"),
        (CHECK, {"code": "abcdef"}, "6 digits"),
        (CHECK, {"code": "１２３４５６"}, "6 digits"),  # fullwidth digits are not ours
        (CHECK, {"code": "1" * 2000}, "longer than"),
        (CHECK, {"code": "123456"}, "ask for one first"),
    ],
)
def test_bad_input_gets_a_reason(client, db, organisation, path, body, reason) -> None:
    if body is None:
        response = client.post(path, data="phone=0712345678")
    else:
        response = client.post(path, json=body)
    assert 400 <= response.status_code < 500
    assert reason in response.get_json()["error"]
    assert count(db, m.VerificationCode) == 0 and count(db, m.OutboundMessage) == 0


def test_unknown_organisation_is_a_404(client, organisation) -> None:
    assert client.post("/chat/nobody/api/verify/start", json={"phone": PHONE}).status_code == 404
    assert client.post("/chat/nobody/api/verify/check", json={"code": "123456"}).status_code == 404


def test_anonymous_chat_stays_the_default(client, db, organisation) -> None:
    html = client.get("/chat/ngiluni").get_data(as_text=True)
    assert "Use without a phone number" in html
    assert client.post(MESSAGE, json={"text": "JOIN"}).status_code == 200
    with db.session() as session:
        assert session.scalar(sa.select(m.Participant.phone)).startswith("web:")


@pytest.fixture
def requires_phone(db, organisation):
    with db.session() as session:
        row = session.get(m.Organisation, organisation.id)
        row.settings = {**row.settings, "webchat_requires_phone": True}


def test_required_phone_is_enforced(
    client, db, services, organisation, requires_phone, fake_twilio
) -> None:
    html = client.get("/chat/ngiluni").get_data(as_text=True)
    assert "This chat needs your phone number" in html
    assert "Use without a phone number" not in html
    assert 'id="send" autocomplete="off" hidden' in html

    refused = client.post(MESSAGE, json={"text": "JOIN"})
    assert refused.status_code == 403
    assert "verify your phone number" in refused.get_json()["error"]
    assert count(db, m.InboundMessage) == 0 and count(db, m.Participant) == 0

    client.post(START, json={"phone": PHONE})
    client.post(CHECK, json={"code": received_code(services, fake_twilio)})
    assert client.post(MESSAGE, json={"text": "JOIN"}).status_code == 200
    assert 'id="send" autocomplete="off" hidden' not in client.get("/chat/ngiluni").get_data(
        as_text=True
    )


def test_an_erased_participant_unlinks_the_browser(
    client, db, services, organisation, requires_phone, fake_twilio
) -> None:
    client.post(START, json={"phone": PHONE})
    client.post(CHECK, json={"code": received_code(services, fake_twilio)})
    with db.session() as session:
        participant = session.scalar(sa.select(m.Participant))
        participant.phone, participant.status = None, "erased"
    assert client.post(MESSAGE, json={"text": "JOIN"}).status_code == 403


def test_the_page_stays_small(client, organisation, requires_phone) -> None:
    response = client.get("/chat/ngiluni")
    assert len(response.data) < 8_000
    assert "src=" not in response.get_data(as_text=True)
