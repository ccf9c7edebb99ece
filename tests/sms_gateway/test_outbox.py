"""The outbox through the real Twilio and Africa's Talking SDKs, against the fake servers."""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta

import pytest
import sqlalchemy as sa

from heard.config import AfricasTalkingSettings, TwilioSettings
from sms_gateway.africastalking import AfricasTalkingProvider
from sms_gateway.outbox import (
    REQUEUED_DETAIL,
    Outbox,
    RecoveryReport,
    RetryPolicy,
    quiet_hours_end,
)
from sms_gateway.providers import Providers
from storage import models as m
from storage import queries
from storage.secrets import open_secrets, seal_secrets

PHONE = "+254712345678"
OTHER = "+254733000111"
FROM = "+15005550006"
QUESTION = "Is the water point working? 1 Yes 2 No"
NBO = "Africa/Nairobi"


@pytest.fixture
def settings(settings, fake_twilio, fake_at):
    return settings.with_overrides(
        twilio=TwilioSettings(fake_twilio.account_sid, fake_twilio.auth_token, FROM),
        twilio_api_base=fake_twilio.url,
        africastalking=AfricasTalkingSettings(fake_at.username, fake_at.api_key, "HEARD"),
        at_api_base=fake_at.url,
        at_callback_token="test-callback-token",
    )


@pytest.fixture
def outbox(db, settings, clock) -> Outbox:
    return Outbox(db, settings, clock, rng=random.Random(7))


def person(db, organisation, phone=PHONE, *, provider="twilio", **fields) -> int:
    fields.setdefault("status", "active")
    fields.setdefault("consent_version", 1)
    with db.session() as session:
        row = m.Participant(
            organisation_id=organisation.id, phone=phone, provider=provider, **fields
        )
        session.add(row)
        session.flush()
        return row.id


def queue(db, organisation, participant_id, *, provider="twilio", text=QUESTION, **fields):
    with db.session() as session:
        participant = session.get(m.Participant, participant_id) if participant_id else None
        fields.setdefault("is_reply", False)
        fields.setdefault("created_at", datetime(2026, 1, 5, 8, 0))
        fields.setdefault("next_attempt_at", datetime(2026, 1, 5, 8, 0))
        [row] = queries.add_outbound(
            session,
            [
                m.OutboundMessage(
                    organisation_id=organisation.id,
                    participant_id=participant_id,
                    provider=provider,
                    to=participant.phone if participant else fields.pop("to"),
                    text=text,
                    status="queued",
                    **fields,
                )
            ],
        )
        return row.id


def row(db, row_id) -> m.OutboundMessage:
    with db.session() as session:
        return session.get(m.OutboundMessage, row_id)


def history(db, row_id) -> list[str]:
    """The row's status events; queueing writes none (queries.add_outbound)."""
    with db.session() as session:
        return list(
            session.scalars(
                sa.select(m.MessageStatusEvent.status)
                .where(m.MessageStatusEvent.outbound_message_id == row_id)
                .order_by(m.MessageStatusEvent.id)
            )
        )


def participant_status(db, participant_id) -> str:
    with db.session() as session:
        return session.get(m.Participant, participant_id).status


# --- sending ------------------------------------------------------------------------------


def test_twilio_send_marks_sending_then_sent(outbox, db, organisation, fake_twilio) -> None:
    message = queue(db, organisation, person(db, organisation))

    report = outbox.drain_once()

    assert (report.claimed, report.sent) == (1, 1)
    assert fake_twilio.send_counts == {PHONE: 1}
    [sent] = fake_twilio.messages
    sent_row = row(db, message)
    assert sent_row.status == "sent" and sent_row.provider_message_id == sent["sid"]
    assert sent_row.attempts == 1
    assert history(db, message) == ["sending", "sent"]
    request = fake_twilio.requests[0]
    assert request.first("From") == FROM and request.first("Body") == QUESTION
    assert request.first("StatusCallback") == "https://heard.example.org/sms/twilio/status"
    assert outbox.drain_once().claimed == 0


def test_at_identical_texts_go_in_one_bulk_call(outbox, db, organisation, fake_at) -> None:
    numbers = [f"+2547000{i:05d}" for i in range(30)]
    ids = [
        queue(db, organisation, person(db, organisation, n, provider="africastalking"),
              provider="africastalking")
        for n in numbers
    ]  # fmt: skip

    report = outbox.drain_once()

    assert report.sent == 30
    [call] = fake_at.send_requests
    assert call.first("to").split(",") == numbers and call.first("from") == "HEARD"
    by_number = {m["number"]: m["messageId"] for m in fake_at.messages}
    for message_id, number in zip(ids, numbers, strict=True):
        assert row(db, message_id).provider_message_id == by_number[number]


def test_one_bulk_call_with_mixed_results_records_each_row(
    outbox, db, organisation, fake_at, clock
) -> None:
    # Accepted rows are written set-wise, the others row by row: in one call, both.
    numbers = [f"+2547010{i:05d}" for i in range(6)]
    people = [person(db, organisation, n, provider="africastalking") for n in numbers]
    ids = [queue(db, organisation, p, provider="africastalking") for p in people]
    fake_at.fail_numbers[numbers[1]] = 406  # blacklisted: failed, opted out
    fake_at.fail_numbers[numbers[2]] = 405  # insufficient balance: retried later
    fake_at.fail_numbers[numbers[3]] = 403  # invalid number: failed for good

    report = outbox.drain_once()

    assert len(fake_at.send_requests) == 1
    assert (report.sent, report.failed, report.retried) == (3, 2, 1)
    assert statuses(db, ids) == ["sent", "failed", "queued", "failed", "sent", "sent"]
    by_number = {m["number"]: m["messageId"] for m in fake_at.messages}
    for i in (0, 4, 5):
        sent = row(db, ids[i])
        assert sent.provider_message_id == by_number[numbers[i]]
        assert sent.sent_at == clock.now() and sent.attempts == 1
        assert history(db, ids[i])[-2:] == ["sending", "sent"]
    assert history(db, ids[1])[-2:] == ["sending", "failed"]
    assert participant_status(db, people[1]) == "opted_out"
    assert history(db, ids[2])[-2:] == ["sending", "queued"]
    assert row(db, ids[2]).next_attempt_at > clock.now()
    assert row(db, ids[3]).error_code == "403"


def test_a_drain_holds_one_connection_and_commits_once_per_call(
    db, settings, clock, organisation, fake_at
) -> None:
    # 250 rows, 3 bulk requests: the claim, then one commit per call (its mark, with
    # the previous call's results), then the last call's results.
    for i in range(250):
        queue(db, organisation, person(db, organisation, f"+2547440{i:05d}",
              provider="africastalking"), provider="africastalking")  # fmt: skip
    outbox = Outbox(db, settings, clock, rates={"africastalking": 1000.0})
    checkouts, commits = [], []

    def checkout(*_) -> None:
        checkouts.append(1)

    def commit(*_) -> None:
        commits.append(1)

    sa.event.listen(db.engine, "checkout", checkout)
    sa.event.listen(db.engine, "commit", commit)
    try:
        assert outbox.drain_once(batch_size=500).sent == 250
    finally:
        sa.event.remove(db.engine, "checkout", checkout)
        sa.event.remove(db.engine, "commit", commit)
    assert len(fake_at.send_requests) == 3
    assert (len(checkouts), len(commits)) == (1, 1 + 3 + 1)


def test_transient_failure_is_retried_with_backoff(outbox, db, organisation, fake_twilio, clock):
    message = queue(db, organisation, person(db, organisation))
    fake_twilio.fail_next(1, status=503, code=20503)

    assert outbox.drain_once().retried == 1
    waiting = row(db, message)
    assert waiting.status == "queued" and waiting.attempts == 1
    delay = waiting.next_attempt_at - clock.now()
    assert timedelta(seconds=15) <= delay <= timedelta(seconds=45)  # 30 s ± jitter
    assert outbox.drain_once().claimed == 0  # not before its time

    clock.advance(delay)
    assert outbox.drain_once().sent == 1
    assert row(db, message).attempts == 2
    assert history(db, message) == ["sending", "queued", "sending", "sent"]
    assert fake_twilio.send_counts == {PHONE: 1}


def test_backoff_grows_and_jitter_comes_from_the_injected_random() -> None:
    policy = RetryPolicy(base=timedelta(seconds=10), cap=timedelta(seconds=60))
    low, high = random.Random(), random.Random()
    low.random = lambda: 0.0  # type: ignore[method-assign]
    high.random = lambda: 1.0  # type: ignore[method-assign]
    assert [policy.delay(n, low).total_seconds() for n in (1, 2, 3, 4, 5)] == [5, 10, 20, 30, 30]
    assert policy.delay(3, high).total_seconds() == 60


def test_gives_up_after_max_attempts(db, settings, clock, organisation, fake_twilio) -> None:
    outbox = Outbox(db, settings, clock, rng=random.Random(1), retry=RetryPolicy(max_attempts=3))
    message = queue(db, organisation, person(db, organisation))
    fake_twilio.fail_next(10, status=500, code=20500)
    for _ in range(3):
        outbox.drain_once()
        clock.advance(hours=2)
    failed = row(db, message)
    assert failed.status == "failed" and failed.attempts == 3 and failed.error_code == "20500"
    assert outbox.drain_once().claimed == 0


def test_permanent_failure_is_not_retried(outbox, db, organisation, fake_twilio, clock) -> None:
    message = queue(db, organisation, person(db, organisation))
    fake_twilio.fail_numbers[PHONE] = 21211

    assert outbox.drain_once().failed == 1
    failed = row(db, message)
    assert failed.status == "failed" and failed.error_code == "21211"
    clock.advance(days=1)
    assert outbox.drain_once().claimed == 0
    assert fake_twilio.send_counts == {}


def test_21610_opts_the_participant_out(outbox, db, organisation, fake_twilio, clock) -> None:
    participant = person(db, organisation)
    first = queue(db, organisation, participant)
    later = queue(db, organisation, participant, next_attempt_at=clock.now() + timedelta(hours=1))
    fake_twilio.fail_numbers[PHONE] = 21610

    outbox.drain_once()

    assert row(db, first).status == "failed" and row(db, first).error_code == "21610"
    assert participant_status(db, participant) == "opted_out"
    assert row(db, later).status == "cancelled"
    clock.advance(hours=2)
    assert outbox.drain_once().claimed == 0


def test_at_blacklist_opts_the_participant_out(outbox, db, organisation, fake_at) -> None:
    participant = person(db, organisation, provider="africastalking")
    message = queue(db, organisation, participant, provider="africastalking")
    fake_at.fail_numbers[PHONE] = 406

    outbox.drain_once()

    assert row(db, message).status == "failed" and row(db, message).error_code == "406"
    assert participant_status(db, participant) == "opted_out"


def test_opt_out_between_queue_and_send_cancels(outbox, db, organisation, fake_twilio) -> None:
    participant = person(db, organisation)
    outreach = queue(db, organisation, participant)
    reply = queue(db, organisation, participant, is_reply=True)
    with db.session() as session:
        found = session.get(m.Participant, participant)
        found.status, found.opted_out_at = "opted_out", datetime(2026, 1, 5, 8, 30)

    assert outbox.drain_once().cancelled == 2
    assert row(db, outreach).status == "cancelled" and row(db, reply).status == "cancelled"
    assert fake_twilio.requests == []


def test_the_stop_confirmation_still_goes(outbox, db, organisation, fake_twilio) -> None:
    opted = datetime(2026, 1, 5, 8, 30)
    participant = person(db, organisation, status="opted_out", opted_out_at=opted)
    confirmation = queue(db, organisation, participant, is_reply=True, created_at=opted)

    assert outbox.drain_once().sent == 1
    assert row(db, confirmation).status == "sent"


def test_no_outreach_without_current_consent(outbox, db, organisation, fake_twilio) -> None:
    pending = person(db, organisation, status="pending_consent", consent_version=None)
    outreach = queue(db, organisation, pending)
    consent_question = queue(db, organisation, pending, is_reply=True)

    report = outbox.drain_once()

    assert (report.cancelled, report.sent) == (1, 1)
    assert row(db, outreach).status == "cancelled"
    assert row(db, consent_question).status == "sent"
    assert fake_twilio.send_counts == {PHONE: 1}


def test_quiet_hours_defer_outreach_but_not_replies(outbox, db, organisation, clock) -> None:
    clock.set(datetime(2026, 1, 5, 19, 30))  # 22:30 in Nairobi; quiet 21:00–07:00
    participant = person(db, organisation)
    outreach = queue(db, organisation, participant)
    reply = queue(db, organisation, participant, is_reply=True)

    report = outbox.drain_once()

    assert (report.deferred, report.sent) == (1, 1)
    assert row(db, reply).status == "sent"
    deferred = row(db, outreach)
    assert deferred.status == "queued"
    assert deferred.next_attempt_at == datetime(2026, 1, 6, 4, 0)  # 07:00 Nairobi
    clock.set(datetime(2026, 1, 6, 3, 59))
    assert outbox.drain_once().claimed == 0
    clock.set(datetime(2026, 1, 6, 4, 0))
    assert outbox.drain_once().sent == 1


def test_quiet_hours_follow_the_participants_time_zone(outbox, db, organisation, clock):
    clock.set(datetime(2026, 1, 5, 19, 30))  # 22:30 Nairobi, 14:30 in New York
    participant = person(db, organisation, timezone="America/New_York")
    queue(db, organisation, participant)
    assert outbox.drain_once().sent == 1


@pytest.mark.parametrize(
    ("now", "start", "end", "zone", "expected"),
    [
        (datetime(2026, 1, 5, 19, 30), time(21), time(7), NBO, datetime(2026, 1, 6, 4)),
        (datetime(2026, 1, 5, 1, 0), time(21), time(7), NBO, datetime(2026, 1, 5, 4)),
        (datetime(2026, 1, 5, 4, 0), time(21), time(7), NBO, None),
        (datetime(2026, 1, 5, 17, 59), time(21), time(7), NBO, None),
        (datetime(2026, 1, 5, 13, 0), time(12), time(14), "UTC", datetime(2026, 1, 5, 14)),
        (datetime(2026, 1, 5, 14, 0), time(12), time(14), "UTC", None),
        (datetime(2026, 1, 5, 13, 0), time(9), time(9), "UTC", None),
        (datetime(2026, 1, 5, 22, 0), time(21), time(7), "No/Such_Zone", datetime(2026, 1, 6, 7)),
    ],
)
def test_quiet_hours_end(now, start, end, zone, expected) -> None:
    assert quiet_hours_end(now, start, end, zone, None) == expected


def test_rate_limit_per_channel_on_the_injected_clock(db, settings, clock, organisation) -> None:
    # More here and in tests/sms_gateway/test_rate_limit.py: the rate is shared by workers.
    outbox = Outbox(db, settings, clock, rates={"twilio": 2.0})
    participant = person(db, organisation)
    for _ in range(5):
        queue(db, organisation, participant, is_reply=True)

    first = outbox.drain_once()
    assert (first.sent, first.throttled) == (2, 3)
    assert outbox.drain_once().claimed == 0
    clock.advance(seconds=1)
    assert outbox.drain_once().sent == 2
    clock.advance(seconds=1)
    assert outbox.drain_once().sent == 1


def test_console_rows_are_delivered_without_network(outbox, db, organisation, fake_twilio):
    message = queue(db, organisation, person(db, organisation, provider="console"),
                    provider="console")  # fmt: skip
    assert outbox.drain_once().delivered == 1
    assert row(db, message).status == "delivered"
    assert fake_twilio.requests == []


def test_without_credentials_the_row_fails_with_a_reason(db, settings, clock, organisation):
    outbox = Outbox(db, settings.with_overrides(twilio=None), clock)
    message = queue(db, organisation, person(db, organisation))
    assert outbox.drain_once().failed == 1
    failed = row(db, message)
    assert failed.error_code == "no_channel" and "twilio" in failed.error


def test_a_channel_row_sends_with_its_own_sealed_credentials(
    outbox, db, settings, organisation, fake_twilio
) -> None:
    sealed = seal_secrets(settings.secret_key, {"auth_token": fake_twilio.auth_token})
    assert open_secrets(settings.secret_key, sealed) == {"auth_token": fake_twilio.auth_token}
    with db.session() as session:
        other = m.Organisation(slug="other", name="Other", timezone="UTC")
        session.add(other)
        session.flush()
        session.add(
            m.Channel(
                organisation_id=other.id,
                provider="twilio",
                address="+15005550009",
                config={"account_sid": fake_twilio.account_sid},
                secrets_encrypted=sealed,
                rate_per_second=5,
            )
        )
        participant = m.Participant(
            organisation_id=other.id, phone=OTHER, status="active", consent_version=1
        )
        session.add(participant)
        session.flush()
        participant_id = participant.id
    message = queue(db, other, participant_id)

    assert outbox.drain_once().sent == 1
    assert fake_twilio.requests[0].first("From") == "+15005550009"
    assert row(db, message).status == "sent"


# --- rows left "sending" by a crash ----------------------------------------------------------


class Killed(BaseException):
    """SIGKILL mid-batch: a BaseException, so the outbox's `except Exception` cannot
    tidy up after it, just as nothing runs after a real kill."""


class KillingProviders:
    """The real providers, but the worker "dies" in call number `kill_at` (1-based):
    after the API call when `after_call`, else before it reaches the provider."""

    def __init__(self, real: Providers, kill_at: int, *, after_call: bool, at_bulk: int = 100):
        self.real, self.kill_at, self.after_call, self.at_bulk = real, kill_at, after_call, at_bulk
        self.calls = 0

    def get(self, credentials):
        provider = self.real.get(credentials)
        if isinstance(provider, AfricasTalkingProvider):
            provider.max_recipients_per_call = self.at_bulk
        return _Killing(provider, self)


class _Killing:
    def __init__(self, provider, plan: KillingProviders):
        self.provider, self.plan, self.name = provider, plan, provider.name

    def calls(self, messages):
        return self.provider.calls(messages)

    def send_batch(self, messages):
        self.plan.calls += 1
        if self.plan.calls != self.plan.kill_at:
            return self.provider.send_batch(messages)
        if self.plan.after_call:
            self.provider.send_batch(messages)
        raise Killed

    def lookup_sent(self, *args, **kwargs):
        return self.provider.lookup_sent(*args, **kwargs)


def statuses(db, ids) -> list[str]:
    with db.session() as session:
        return [session.get(m.OutboundMessage, i).status for i in ids]


def killed_outbox(db, settings, clock, kill_at, *, after_call, at_bulk=100) -> Outbox:
    providers = KillingProviders(
        Providers(settings), kill_at, after_call=after_call, at_bulk=at_bulk
    )
    return Outbox(db, settings, clock, providers=providers)  # type: ignore[arg-type]


@pytest.mark.parametrize("after_call", [True, False], ids=["after-the-call", "before-the-call"])
def test_a_worker_killed_mid_batch_leaves_one_twilio_message_in_doubt(
    db, settings, clock, organisation, fake_twilio, after_call
) -> None:
    # Twilio dates its messages in real time; replies, as real time may be in quiet hours.
    clock.set(datetime.now().replace(microsecond=0))
    numbers = [f"+2547110000{i:02d}" for i in range(5)]
    ids = [
        queue(db, organisation, person(db, organisation, n), created_at=clock.now(),
              next_attempt_at=clock.now(), is_reply=True)
        for n in numbers
    ]  # fmt: skip

    with pytest.raises(Killed):
        killed_outbox(db, settings, clock, 3, after_call=after_call).drain_once()

    assert statuses(db, ids) == ["sent", "sent", "sending", "queued", "queued"]
    survivor = Outbox(db, settings, clock)  # another worker, or the restarted one
    assert survivor.drain_once().claimed == 0  # the dead worker's lease still holds them
    assert survivor.recover() == RecoveryReport()  # and the row in doubt is too fresh

    clock.advance(minutes=6)
    report = survivor.recover()
    drained = survivor.drain_once()

    if after_call:  # Twilio has it: reconciled, not re-sent
        assert (report.sent, report.requeued, drained.sent) == (1, 0, 2)
        assert history(db, ids[2]) == ["sending", "sent"]
    else:  # it never left: queued again and sent once
        assert (report.sent, report.requeued, drained.sent) == (0, 1, 3)
        assert history(db, ids[2]) == ["sending", "queued", "sending", "sent"]
        assert REQUEUED_DETAIL in events(db, ids[2])
    assert statuses(db, ids) == ["sent"] * 5
    assert fake_twilio.send_counts == dict.fromkeys(numbers, 1)
    assert {row(db, i).provider_message_id for i in ids} == {m["sid"] for m in fake_twilio.messages}


def test_a_worker_killed_during_an_at_bulk_request_leaves_that_request_in_doubt(
    db, settings, clock, organisation, fake_at
) -> None:
    numbers = [f"+2547220000{i:02d}" for i in range(25)]
    ids = [
        queue(db, organisation, person(db, organisation, n, provider="africastalking"),
              provider="africastalking")
        for n in numbers
    ]  # fmt: skip

    with pytest.raises(Killed):
        killed_outbox(db, settings, clock, 2, after_call=True, at_bulk=10).drain_once()

    assert statuses(db, ids) == ["sent"] * 10 + ["sending"] * 10 + ["queued"] * 5
    clock.advance(minutes=6)
    survivor = Outbox(db, settings, clock)
    # Africa's Talking has no API to ask which of a bulk request's messages it took.
    assert survivor.recover() == RecoveryReport(unknown=10)
    assert survivor.drain_once().sent == 5
    assert statuses(db, ids) == ["sent"] * 10 + ["unknown"] * 10 + ["sent"] * 5
    assert set(fake_at.send_counts.values()) == {1} and len(fake_at.send_counts) == 25


def test_at_bulk_requests_are_at_most_100_recipients(db, settings, clock, organisation, fake_at):
    for i in range(150):
        participant = person(db, organisation, f"+2547330{i:05d}", provider="africastalking")
        queue(db, organisation, participant, provider="africastalking")
    outbox = Outbox(db, settings, clock, rates={"africastalking": 1000.0})

    assert outbox.drain_once(batch_size=500).sent == 150
    assert [len(r.first("to").split(",")) for r in fake_at.send_requests] == [100, 50]


def test_a_row_cancelled_after_the_claim_is_not_sent(
    db, settings, clock, organisation, fake_twilio
):
    first = queue(db, organisation, person(db, organisation))
    second = queue(db, organisation, person(db, organisation, OTHER))

    class ErasedMeanwhile(Providers):
        def get(self, credentials):
            with db.session() as session:  # e.g. an erasure request, between two calls
                queries.record_status(session, session.get(m.OutboundMessage, second), "cancelled")
            return super().get(credentials)

    report = Outbox(db, settings, clock, providers=ErasedMeanwhile(settings)).drain_once()

    assert (report.claimed, report.sent) == (2, 1)
    assert statuses(db, [first, second]) == ["sent", "cancelled"]
    assert fake_twilio.send_counts == {PHONE: 1}


def test_recovery_settles_rows_left_sending(outbox, db, organisation, fake_twilio, clock):
    clock.set(datetime.now().replace(microsecond=0))  # Twilio dates its messages in real time
    participant = person(db, organisation)
    at_participant = person(db, organisation, OTHER, provider="africastalking")
    accepted = queue(db, organisation, participant, is_reply=True, created_at=clock.now())
    lost = queue(db, organisation, participant, is_reply=True, text="Lost", created_at=clock.now())
    at_row = queue(db, organisation, at_participant, provider="africastalking", is_reply=True)
    held = fake_twilio.add_message(to=PHONE, from_=FROM, body=QUESTION)
    mark_sending(db, clock, accepted, lost, at_row)

    assert outbox.recover().sent == 0  # too fresh: another worker may still be sending
    clock.advance(minutes=10)
    report = outbox.recover()

    assert report == RecoveryReport(sent=1, unknown=1, requeued=1)
    assert row(db, accepted).status == "sent"
    assert row(db, accepted).provider_message_id == held["sid"]
    assert row(db, at_row).status == "unknown"
    assert row(db, lost).status == "queued" and REQUEUED_DETAIL in events(db, lost)
    assert fake_twilio.send_counts == {}  # nothing re-sent by recovery itself
    assert outbox.drain_once().sent == 1  # the row Twilio never got goes now, once
    assert fake_twilio.send_counts == {PHONE: 1}


def test_recovery_finds_a_message_still_in_twilios_queue(
    outbox, db, organisation, fake_twilio, clock
):
    clock.set(datetime.now().replace(microsecond=0))
    message = queue(db, organisation, person(db, organisation), created_at=clock.now())
    # Queued behind a long code's 1 message/s: Twilio has it but has not sent it yet.
    fake_twilio.add_message(to=PHONE, from_=FROM, body=QUESTION, status="queued", date_sent=None)
    mark_sending(db, clock, message)
    clock.advance(minutes=10)

    assert outbox.recover() == RecoveryReport(sent=1)
    assert fake_twilio.send_counts == {}


def test_a_sid_another_row_owns_is_not_this_rows_send(outbox, db, organisation, fake_twilio, clock):
    clock.set(datetime.now().replace(microsecond=0))
    participant = person(db, organisation)
    earlier = queue(db, organisation, participant, created_at=clock.now(), is_reply=True)
    assert outbox.drain_once().sent == 1
    again = queue(
        db, organisation, participant, created_at=clock.now(), next_attempt_at=clock.now()
    )
    mark_sending(db, clock, again)
    clock.advance(minutes=10)

    assert outbox.recover() == RecoveryReport(requeued=1)  # the one Twilio holds is earlier's
    assert row(db, earlier).status == "sent"


def test_recovery_keeps_a_row_in_doubt_while_twilio_cannot_be_asked(
    db, settings, organisation, fake_twilio, clock
) -> None:
    clock.set(datetime.now().replace(microsecond=0))
    message = queue(db, organisation, person(db, organisation), created_at=clock.now())
    mark_sending(db, clock, message)
    clock.advance(minutes=10)
    fake_twilio.stop()  # Twilio unreachable: not asked is not "not there"

    report = Outbox(db, settings, clock).recover()

    assert report == RecoveryReport(left=1)
    assert row(db, message).status == "sending"


def test_a_message_that_keeps_dying_with_its_worker_stops(
    db, settings, organisation, fake_twilio, clock
) -> None:
    clock.set(datetime.now().replace(microsecond=0))
    outbox = Outbox(db, settings, clock, retry=RetryPolicy(max_attempts=2))
    message = queue(db, organisation, person(db, organisation), created_at=clock.now())
    with db.session() as session:
        session.get(m.OutboundMessage, message).attempts = 1
    mark_sending(db, clock, message)  # attempt 2 of 2 died with its worker
    clock.advance(minutes=10)

    outbox.recover()

    assert row(db, message).status == "failed" and row(db, message).error_code == "crashed"
    assert fake_twilio.send_counts == {}


def mark_sending(db, clock, *ids: int) -> None:
    """What a worker commits before its API call, and all a SIGKILL leaves behind."""
    with db.session() as session:
        for row_id in ids:
            found = session.get(m.OutboundMessage, row_id)
            found.attempts += 1
            queries.record_status(session, found, "sending", now=clock.now())
            found.updated_at = clock.now()


def events(db, row_id) -> list[str | None]:
    with db.session() as session:
        return list(
            session.scalars(
                sa.select(m.MessageStatusEvent.detail)
                .where(m.MessageStatusEvent.outbound_message_id == row_id)
                .order_by(m.MessageStatusEvent.id)
            )
        )
