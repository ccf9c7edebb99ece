"""Signature and token checks that the fixture files cannot express."""

from __future__ import annotations

import pytest
from twilio.request_validator import RequestValidator

from sms_gateway import africastalking, twilio
from sms_gateway.base import WebhookRejected

FORM = {"MessageSid": "SM1", "From": "+254712345678", "Body": "JOIN"}


@pytest.mark.parametrize(
    ("public_url", "path", "query", "expected"),
    [
        ("https://heard.example.org", "/sms/twilio", "", "https://heard.example.org/sms/twilio"),
        (
            "https://heard.example.org/",
            "/sms/twilio",
            "a=1",
            "https://heard.example.org/sms/twilio?a=1",
        ),
        ("https://example.org/heard", "sms/twilio", "", "https://example.org/heard/sms/twilio"),
    ],
)
def test_signed_url(public_url: str, path: str, query: str, expected: str) -> None:
    assert twilio.signed_url(public_url, path, query) == expected


def test_twilio_signature_round_trip() -> None:
    url = "https://heard.example.org/sms/twilio"
    signature = RequestValidator("secret").compute_signature(url, FORM)
    twilio.verify_signature(url=url, form=FORM, signature=signature, auth_token="secret")
    with pytest.raises(WebhookRejected) as caught:
        twilio.verify_signature(url=url, form=FORM, signature=signature, auth_token="other")
    assert caught.value.status == 403


def test_twilio_refuses_when_no_token_is_configured() -> None:
    with pytest.raises(WebhookRejected, match="not configured"):
        twilio.verify_signature(url="https://x/y", form=FORM, signature="abc", auth_token="")


@pytest.mark.parametrize(
    ("token", "expected", "reason"),
    [
        (None, "secret", "missing token"),
        ("", "secret", "missing token"),
        ("secreT", "secret", "invalid token"),
        ("secret", "", "not configured"),
        ("", "", "not configured"),
    ],
)
def test_at_token_refusals(token: str | None, expected: str, reason: str) -> None:
    with pytest.raises(WebhookRejected) as caught:
        africastalking.verify_token(token, expected)
    assert caught.value.status == 403
    assert reason in caught.value.reason


def test_at_token_accepted() -> None:
    africastalking.verify_token("secret", "secret")


@pytest.mark.parametrize(
    ("word", "ours"),
    [
        ("accepted", "sent"),
        ("scheduled", "sent"),
        ("queued", "sent"),
        ("sending", "sent"),
        ("sent", "sent"),
        ("delivered", "delivered"),
        ("read", "delivered"),
        ("undelivered", "undelivered"),
        ("failed", "failed"),
        ("canceled", "failed"),
    ],
)
def test_twilio_status_words(word: str, ours: str) -> None:
    update = twilio.parse_status({"MessageSid": "SM1", "MessageStatus": word})
    assert update.status == ours


@pytest.mark.parametrize("word", ["received", "receiving"])
def test_twilio_inbound_status_words_are_refused(word: str) -> None:
    with pytest.raises(WebhookRejected, match="inbound"):
        twilio.parse_status({"MessageSid": "SM1", "MessageStatus": word})


@pytest.mark.parametrize(
    ("word", "ours"),
    [
        ("Sent", "sent"),
        ("Submitted", "sent"),
        ("Buffered", "sent"),
        ("Success", "delivered"),
        ("Rejected", "failed"),
        ("Failed", "failed"),
        ("AbsentSubscriber", "undelivered"),
        ("Expired", "undelivered"),
    ],
)
def test_at_status_words(word: str, ours: str) -> None:
    assert africastalking.parse_delivery({"id": "ATXid_1", "status": word}).status == ours


@pytest.mark.parametrize(
    ("reason", "permanent", "opted_out"),
    [
        ("InsufficientCredit", False, False),
        ("InvalidLinkId", True, False),
        ("UserIsInactive", True, False),
        ("UserInBlackList", True, True),
        ("UserAccountSuspended", True, False),
        ("NotNetworkSubcriber", True, False),
        ("UserNotSubscribedToProduct", True, True),
        ("UserDoesNotExist", True, False),
        ("DeliveryFailure", True, False),
        ("AbsentSubscriber", False, False),
    ],
)
def test_at_failure_reasons(reason: str, permanent: bool, opted_out: bool) -> None:
    assert africastalking.is_permanent_failure(reason) is permanent
    assert africastalking.is_opt_out(reason) is opted_out


def test_twilio_opt_out_code() -> None:
    assert twilio.is_opt_out("21610") and twilio.is_opt_out(21610)
    assert not twilio.is_opt_out("30003") and not twilio.is_opt_out(None)
    assert not twilio.is_opt_out("oops")
