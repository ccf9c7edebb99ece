"""AfricasTalkingProvider through the real africastalking SDK against the fake API."""

from __future__ import annotations

import pytest

from sms_gateway.africastalking import AfricasTalkingProvider, RebasedSMSService
from sms_gateway.base import OutboundMessage
from tests.fakes.fake_africastalking import FakeAfricasTalking


def provider(fake: FakeAfricasTalking, **kwargs) -> AfricasTalkingProvider:
    kwargs.setdefault("sender_id", "HEARD")
    return AfricasTalkingProvider(fake.username, fake.api_key, api_base=fake.url, **kwargs)


def numbers(n: int) -> list[str]:
    return [f"+2547000{i:05d}" for i in range(n)]


def test_identical_texts_go_in_one_bulk_call(fake_at: FakeAfricasTalking) -> None:
    question = "Has the borehole been repaired? 1 Yes 2 Partly 3 No 4 Don't know"
    messages = [OutboundMessage(i, number, question) for i, number in enumerate(numbers(25))]

    results = provider(fake_at).send_batch(messages)

    assert [r.message_id for r in results] == list(range(25))
    assert all(r.ok and r.status == "sent" for r in results)
    [call] = fake_at.send_requests
    assert call.first("to") == ",".join(numbers(25))
    assert call.first("from") == "HEARD"
    assert call.first("bulkSMSMode") == "1"
    assert fake_at.send_counts == dict.fromkeys(numbers(25), 1)
    ids = {m["number"]: m["messageId"] for m in fake_at.messages}
    assert all(r.provider_id == ids[m.to] for r, m in zip(results, messages, strict=True))


def test_different_texts_and_senders_are_separate_calls(fake_at: FakeAfricasTalking) -> None:
    a, b, c = numbers(3)
    results = provider(fake_at).send_batch(
        [
            OutboundMessage(1, a, "Swali: 1 Ndiyo 2 Hapana"),
            OutboundMessage(2, b, "Question: 1 Yes 2 No"),
            OutboundMessage(3, c, "Swali: 1 Ndiyo 2 Hapana"),
            OutboundMessage(4, b, "Swali: 1 Ndiyo 2 Hapana", sender="OTHER"),
        ]
    )
    assert all(r.ok for r in results)
    calls = sorted(
        (r.first("message"), r.first("from"), r.first("to")) for r in fake_at.send_requests
    )
    assert calls == [
        ("Question: 1 Yes 2 No", "HEARD", b),
        ("Swali: 1 Ndiyo 2 Hapana", "HEARD", f"{a},{c}"),
        ("Swali: 1 Ndiyo 2 Hapana", "OTHER", b),
    ]


def test_same_number_twice_is_sent_twice_in_separate_calls(fake_at: FakeAfricasTalking) -> None:
    [a] = numbers(1)
    results = provider(fake_at).send_batch([OutboundMessage(1, a, "x"), OutboundMessage(2, a, "x")])
    assert [r.ok for r in results] == [True, True]
    assert len(fake_at.send_requests) == 2
    assert fake_at.sends_to(a) == 2
    assert results[0].provider_id != results[1].provider_id


def test_premium_reply_quotes_link_id(fake_at: FakeAfricasTalking) -> None:
    [result] = provider(fake_at).send_batch(
        [OutboundMessage(1, "+254711000111", "Asante", sender="22384", link_id="SampleLinkId123")]
    )
    assert result.ok
    [call] = fake_at.send_requests
    assert (call.first("linkId"), call.first("from"), call.first("bulkSMSMode")) == (
        "SampleLinkId123",
        "22384",
        "0",
    )


def test_premium_without_short_code_fails_without_calling(fake_at: FakeAfricasTalking) -> None:
    p = AfricasTalkingProvider(fake_at.username, fake_at.api_key, api_base=fake_at.url)
    [result] = p.send_batch([OutboundMessage(1, "+254711000111", "x", link_id="L1")])
    assert (result.ok, result.error_code) == (False, "config")
    assert fake_at.requests == []


@pytest.mark.parametrize(
    ("status_code", "permanent", "opted_out"),
    [
        (401, False, False),  # RiskHold
        (402, True, False),  # InvalidSenderId
        (403, True, False),  # InvalidPhoneNumber
        (404, True, False),  # UnsupportedNumberType
        (405, False, False),  # InsufficientBalance: top up, then resend
        (406, True, True),  # UserInBlacklist
        (407, False, False),  # CouldNotRoute
        (409, True, True),  # DoNotDisturbRejection
        (500, False, False),  # InternalServerError
        (501, False, False),  # GatewayError
        (502, False, False),  # RejectedByGateway
    ],
)
def test_recipient_status_codes(
    fake_at: FakeAfricasTalking, status_code: int, permanent: bool, opted_out: bool
) -> None:
    good, bad = numbers(2)
    fake_at.fail_numbers[bad] = status_code
    results = provider(fake_at).send_batch(
        [OutboundMessage(1, good, "x"), OutboundMessage(2, bad, "x")]
    )
    assert results[0].ok
    failed = results[1]
    assert not failed.ok
    assert failed.error_code == str(status_code)
    assert (failed.permanent, failed.opted_out) == (permanent, opted_out)
    assert failed.provider_id is None
    assert len(fake_at.send_requests) == 1  # the failure came back inside the bulk answer


def test_non_e164_numbers_fail_alone_and_the_rest_still_go(fake_at: FakeAfricasTalking) -> None:
    # The SDK raises ValueError for the whole call if one number fails its check.
    results = provider(fake_at).send_batch(
        [OutboundMessage(1, "0712345678", "x"), OutboundMessage(2, "+254712345678", "x")]
    )
    assert (results[0].ok, results[0].permanent, results[0].error_code) == (False, True, "403")
    assert results[1].ok
    assert fake_at.send_requests[0].first("to") == "+254712345678"


@pytest.mark.parametrize("status", [500, 502, 503])
def test_http_errors_are_retryable_for_the_whole_call(
    fake_at: FakeAfricasTalking, status: int
) -> None:
    fake_at.fail_next(1, status=status)
    results = provider(fake_at).send_batch(
        [OutboundMessage(i, n, "x") for i, n in enumerate(numbers(3))]
    )
    assert all((r.ok, r.permanent, r.error_code) == (False, False, "http") for r in results)
    assert fake_at.send_counts == {}


def test_timeout_is_retryable(fake_at: FakeAfricasTalking) -> None:
    fake_at.stall_next(1, seconds=2.0)
    p = provider(fake_at, timeout=(1.0, 0.3))
    results = p.send_batch([OutboundMessage(1, "+254712345678", "x")])
    assert [(r.ok, r.permanent, r.error_code) for r in results] == [(False, False, "timeout")]


def test_wrong_api_key_is_rejected_and_retryable(fake_at: FakeAfricasTalking) -> None:
    fake_at.expect_rejections = True
    p = AfricasTalkingProvider(fake_at.username, "wrong", "HEARD", api_base=fake_at.url)
    [result] = p.send_batch([OutboundMessage(1, "+254712345678", "x")])
    assert (result.ok, result.permanent) == (False, False)
    assert "authentication" in (result.error or "")
    assert [r.reason for r in fake_at.rejections] == ["missing or wrong apiKey header"]


def test_unregistered_sender_id(fake_at: FakeAfricasTalking) -> None:
    fake_at.sender_ids = {"HEARD"}
    [result] = provider(fake_at, sender_id="NOPE").send_batch(
        [OutboundMessage(1, "+254712345678", "x")]
    )
    assert (result.error_code, result.permanent) == ("402", True)


@pytest.mark.parametrize(
    ("username", "base", "content"),
    [
        (
            "heard",
            "https://api.africastalking.com/version1",
            "https://content.africastalking.com/version1",
        ),
        (
            "sandbox",
            "https://api.sandbox.africastalking.com/version1",
            "https://api.sandbox.africastalking.com/version1",
        ),
    ],
)
def test_sdk_hosts_without_override(username: str, base: str, content: str) -> None:
    sms = AfricasTalkingProvider(username, "key").sms
    assert (sms._baseUrl, sms._contentUrl) == (base, content)


def test_override_keeps_sdk_paths() -> None:
    sms = RebasedSMSService("heard", "key", "http://127.0.0.1:9999")
    assert sms._make_url("/messaging") == "http://127.0.0.1:9999/version1/messaging"
    assert sms._make_url("/messaging", content=True) == "http://127.0.0.1:9999/version1/messaging"


def test_override_refuses_bad_base() -> None:
    with pytest.raises(ValueError, match="api_base"):
        RebasedSMSService("heard", "key", "localhost:9999")
