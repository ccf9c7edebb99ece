"""TwilioProvider through the real twilio SDK against the fake Twilio API."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta

import pytest

from sms_gateway import twilio
from sms_gateway.base import OutboundMessage
from sms_gateway.twilio import RebasedHttpClient, TwilioProvider, classify_error
from tests.fakes.fake_twilio import FakeTwilio

FROM = "+15005550006"
OLD = "Mon, 01 Jan 2024 10:00:00 +0000"


def provider(fake: FakeTwilio, **kwargs) -> TwilioProvider:
    kwargs.setdefault("from_number", FROM)
    return TwilioProvider(fake.account_sid, fake.auth_token, api_base=fake.url, **kwargs)


def test_sends_each_message_once_through_the_sdk(fake_twilio: FakeTwilio) -> None:
    messages = [
        OutboundMessage(
            1,
            "+254712345678",
            "Is the water point working? 1 Yes 2 No",
            status_callback="https://heard.example.org/sms/twilio/status",
        ),
        OutboundMessage(2, "+265991234567", "Asante 🙏"),
    ]
    results = provider(fake_twilio).send_batch(messages)

    assert [r.message_id for r in results] == [1, 2]
    assert all(r.ok and r.status == "sent" for r in results)
    sids = [m["sid"] for m in fake_twilio.messages]
    assert [r.provider_id for r in results] == sids
    assert all(sid.startswith("SM") and len(sid) == 34 for sid in sids)
    assert fake_twilio.send_counts == {"+254712345678": 1, "+265991234567": 1}
    first = fake_twilio.requests[0]
    assert first.path == f"/2010-04-01/Accounts/{fake_twilio.account_sid}/Messages.json"
    assert first.first("StatusCallback") == "https://heard.example.org/sms/twilio/status"
    assert first.first("Body") == "Is the water point working? 1 Yes 2 No"
    assert fake_twilio.messages[1]["body"] == "Asante 🙏"


def test_whatsapp_prefixes_both_numbers(fake_twilio: FakeTwilio) -> None:
    [result] = provider(fake_twilio).send_batch(
        [OutboundMessage(7, "+254712345678", "Habari", channel="whatsapp")]
    )
    assert result.ok
    sent = fake_twilio.requests[0]
    assert sent.first("To") == "whatsapp:+254712345678"
    assert sent.first("From") == "whatsapp:" + FROM


def test_message_sender_overrides_default(fake_twilio: FakeTwilio) -> None:
    provider(fake_twilio).send_batch([OutboundMessage(1, "+254712345678", "x", sender="HEARD")])
    assert fake_twilio.requests[0].first("From") == "HEARD"


def test_messaging_service_without_from(fake_twilio: FakeTwilio) -> None:
    service = "MG" + "1" * 32
    p = provider(fake_twilio, from_number=None, messaging_service_sid=service)
    [result] = p.send_batch([OutboundMessage(1, "+254712345678", "x")])
    assert result.ok and result.status == "sent"  # Twilio says "accepted"
    sent = fake_twilio.requests[0]
    assert sent.first("MessagingServiceSid") == service
    assert sent.first("From") is None


def test_needs_a_sender() -> None:
    with pytest.raises(ValueError, match="from_number or a messaging_service_sid"):
        TwilioProvider("AC1", "token", None)


@pytest.mark.parametrize(
    ("code", "permanent", "opted_out"),
    [
        (21610, True, True),  # recipient sent STOP
        (21211, True, False),  # invalid To
        (21614, True, False),  # not a mobile number
        (21612, True, False),  # not reachable from this sender
        (21408, True, False),  # region not enabled
        (30003, True, False),  # unreachable handset
        (30007, True, False),  # carrier filtering
        (20429, False, False),  # throttled
        (20500, False, False),  # Twilio internal error
    ],
)
def test_error_codes_map_to_retry_decisions(
    fake_twilio: FakeTwilio, code: int, permanent: bool, opted_out: bool
) -> None:
    fake_twilio.fail_numbers["+254712345678"] = code
    [result] = provider(fake_twilio).send_batch([OutboundMessage(5, "+254712345678", "x")])
    assert not result.ok
    assert result.error_code == str(code)
    assert (result.permanent, result.opted_out) == (permanent, opted_out)
    assert result.status == ("failed" if permanent else "queued")
    assert fake_twilio.sends_to("+254712345678") == 0


def test_http_429_and_5xx_are_retryable(fake_twilio: FakeTwilio) -> None:
    fake_twilio.fail_next(1, status=429, code=20429)
    fake_twilio.fail_next(1, status=503, code=20503)
    p = provider(fake_twilio)
    results = p.send_batch([OutboundMessage(i, "+254712345678", "x") for i in (1, 2, 3)])
    assert [(r.ok, r.permanent) for r in results] == [(False, False), (False, False), (True, False)]
    assert fake_twilio.sends_to("+254712345678") == 1


def test_a_failure_does_not_stop_the_rest_of_the_batch(fake_twilio: FakeTwilio) -> None:
    fake_twilio.fail_numbers["+254700000002"] = 21610
    numbers = ["+254700000001", "+254700000002", "+254700000003"]
    results = provider(fake_twilio).send_batch(
        [OutboundMessage(i, n, "x") for i, n in enumerate(numbers)]
    )
    assert [r.ok for r in results] == [True, False, True]
    assert fake_twilio.send_counts == {"+254700000001": 1, "+254700000003": 1}


def test_timeout_is_retryable_and_reconcilable(fake_twilio: FakeTwilio) -> None:
    fake_twilio.stall_next(1, seconds=2.0)
    p = provider(fake_twilio, timeout=0.3)
    [result] = p.send_batch([OutboundMessage(1, "+254712345678", "Habari")])
    assert not result.ok
    assert (result.permanent, result.error_code) == (False, "timeout")


def test_connection_refused_is_retryable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    p = TwilioProvider("AC" + "0" * 32, "token", FROM, api_base=f"http://127.0.0.1:{port}")
    [result] = p.send_batch([OutboundMessage(1, "+254712345678", "x")])
    assert (result.ok, result.permanent, result.error_code) == (False, False, "connection")


def test_wrong_credentials_are_rejected_by_the_fake_and_retryable(
    fake_twilio: FakeTwilio,
) -> None:
    fake_twilio.expect_rejections = True
    p = TwilioProvider(fake_twilio.account_sid, "wrong", FROM, api_base=fake_twilio.url)
    [result] = p.send_batch([OutboundMessage(1, "+254712345678", "x")])
    assert (result.ok, result.permanent, result.error_code) == (False, False, "20003")
    assert [r.reason for r in fake_twilio.rejections] == ["bad or missing HTTP Basic auth"]


def test_lookup_sent_finds_what_twilio_holds(fake_twilio: FakeTwilio) -> None:
    p = provider(fake_twilio)
    p.send_batch(
        [
            OutboundMessage(1, "+254712345678", "first"),
            OutboundMessage(2, "+254712345678", "second"),
            OutboundMessage(3, "+254799999999", "someone else"),
        ]
    )
    found = p.lookup_sent("+254712345678", FROM, datetime.now(UTC) - timedelta(hours=1))
    assert sorted(m.body for m in found) == ["first", "second"]
    assert {m.sid for m in found} <= {m["sid"] for m in fake_twilio.messages}
    assert all(m.status == "sent" for m in found)
    listing = fake_twilio.requests[-1]
    assert listing.method == "GET"
    assert listing.query["To"] == ["+254712345678"]
    # A message still in Twilio's queue has no DateSent yet: filtering on it could hide it.
    assert not any(name.startswith("DateSent") for name in listing.query)


def test_lookup_sent_after_a_timeout_shows_the_message_went(fake_twilio: FakeTwilio) -> None:
    fake_twilio.stall_next(1, seconds=1.0)
    p = provider(fake_twilio, timeout=0.3)
    [result] = p.send_batch([OutboundMessage(1, "+254712345678", "Habari")])
    assert result.error_code == "timeout"
    # The fake, like Twilio, finished the send after the client gave up.
    assert fake_twilio.wait_for_sends(1)
    found = p.lookup_sent("+254712345678", FROM, datetime.now(UTC) - timedelta(minutes=5))
    assert [m.body for m in found] == ["Habari"]


def test_lookup_sent_reads_back_to_since_by_creation_date(fake_twilio: FakeTwilio) -> None:
    to = "+254712345678"
    fake_twilio.add_message(to=to, from_=FROM, body="old", date_created=OLD, date_sent=OLD)
    fake_twilio.add_message(to=to, from_=FROM, body="queued at Twilio", date_sent=None)
    found = provider(fake_twilio).lookup_sent(to, FROM, datetime(2024, 6, 1, tzinfo=UTC))
    assert [m.body for m in found] == ["queued at Twilio"]


def test_lookup_sent_refuses_to_answer_from_a_partial_list(
    fake_twilio: FakeTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(twilio, "LOOKUP_LIMIT", 2)
    for body in ("a", "b", "c"):
        fake_twilio.add_message(to="+254712345678", from_=FROM, body=body)
    with pytest.raises(twilio.LookupIncomplete):
        provider(fake_twilio).lookup_sent("+254712345678", FROM, datetime(2024, 6, 1, tzinfo=UTC))


def test_rebased_client_keeps_twilio_paths() -> None:
    client = RebasedHttpClient("http://127.0.0.1:8765")
    url = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json?PageSize=50"
    assert (
        client.rebase(url)
        == "http://127.0.0.1:8765/2010-04-01/Accounts/AC1/Messages.json?PageSize=50"
    )


@pytest.mark.parametrize("bad", ["127.0.0.1:8765", "ftp://x", "http://"])
def test_rebased_client_refuses_bad_bases(bad: str) -> None:
    with pytest.raises(ValueError, match="api_base"):
        RebasedHttpClient(bad)


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        (None, 400, (True, False)),  # unknown 4xx: Twilio will refuse it again
        (None, 500, (False, False)),
        (None, None, (False, False)),
        (12345, 401, (False, False)),
        (21610, 400, (True, True)),
    ],
)
def test_classify_error(code, status, expected) -> None:
    assert classify_error(code, status) == expected
