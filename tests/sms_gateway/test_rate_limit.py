"""The send rate shared by all workers: the bucket arithmetic on a fake clock, two outboxes
("workers") drawing from one bucket, and on PostgreSQL real threads and processes racing
for it."""

from __future__ import annotations

import multiprocessing as mp
import queue
import threading
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from sms_gateway import rate_limit
from sms_gateway.outbox import Outbox, bucket_key
from sms_gateway.providers import Credentials, Providers
from sms_gateway.rate_limit import Bucket, Grant, take
from storage import models as m
from storage.db import Database
from tests.conftest import is_postgres
from tests.sms_gateway.backlog import seed, with_fake_africastalking

T0 = datetime(2026, 1, 5, 9, 0, 0)


@pytest.fixture
def settings(settings, fake_at):
    return with_fake_africastalking(settings, fake_at)


def seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


# --- the arithmetic ---------------------------------------------------------------------


def test_a_full_bucket_grants_its_burst_then_partially_then_nothing() -> None:
    full = Bucket(4.0, T0)
    grant, after = take(full, 3, 4.0, T0)
    assert grant == Grant(3, seconds(0)) and after == Bucket(1.0, T0)
    grant, after = take(after, 3, 4.0, T0)  # one left: a partial grant, and when the next is
    assert grant == Grant(1, seconds(0.25)) and after == Bucket(0.0, T0)
    grant, after = take(after, 3, 4.0, T0)
    assert grant == Grant(0, seconds(0.25)) and after == Bucket(0.0, T0)


def test_refill_at_the_rate_on_the_callers_clock() -> None:
    empty = Bucket(0.0, T0)
    grant, after = take(empty, 10, 4.0, T0 + seconds(0.25))
    assert grant.granted == 1 and after.updated_at == T0 + seconds(0.25)
    grant, after = take(after, 10, 4.0, T0 + seconds(0.875))  # 2.5 tokens: 2 whole
    assert grant == Grant(2, seconds(0.125)) and after.tokens == pytest.approx(0.5)


def test_refill_stops_at_the_burst_of_one_seconds_worth() -> None:
    grant, after = take(Bucket(0.0, T0), 100, 10.0, T0 + timedelta(hours=1))
    assert grant.granted == 10 and after.tokens == 0.0


def test_a_slow_rate_still_bursts_one_message() -> None:
    grant, after = take(Bucket(1.0, T0), 5, 0.2, T0)
    assert grant == Grant(1, seconds(5)) and after.tokens == 0.0
    assert take(after, 5, 0.2, T0 + seconds(4.9))[0].granted == 0
    assert take(after, 5, 0.2, T0 + seconds(5))[0].granted == 1


def test_fractions_of_a_tick_add_up_to_whole_tokens() -> None:
    bucket = Bucket(0.0, T0)
    granted = 0
    for step in range(1, 11):  # 0.1 s at 10/s is one token, not 0.9999999999999999
        grant, bucket = take(bucket, 5, 10.0, T0 + seconds(0.1 * step))
        granted += grant.granted
    assert granted == 10


def test_a_clock_that_goes_backwards_refills_nothing_and_moves_nothing_back() -> None:
    bucket = Bucket(0.0, T0 + seconds(10))  # another worker's clock is ahead of ours
    grant, after = take(bucket, 5, 2.0, T0)
    assert grant == Grant(0, seconds(0.5)) and after == bucket
    grant, after = take(after, 5, 2.0, T0 + seconds(10.5))  # counted from the latest time
    assert grant.granted == 1 and after.updated_at == T0 + seconds(10.5)


def test_nothing_wanted_is_nothing_granted(db) -> None:
    with db.session() as session:
        assert rate_limit.grant(session, "twilio:env", 0, 5.0, T0) == Grant(0, seconds(0))
        assert session.scalar(sa.select(sa.func.count()).select_from(m.SendRateBucket)) == 0


# --- in the database ---------------------------------------------------------------------


def bucket_row(db, key: str) -> m.SendRateBucket | None:
    with db.session() as session:
        return session.get(m.SendRateBucket, key)


def test_a_new_bucket_starts_full_and_is_kept_in_the_database(db) -> None:
    with db.session() as session:
        assert rate_limit.grant(session, "twilio:channel:7", 3, 2.0, T0).granted == 2
    stored = bucket_row(db, "twilio:channel:7")
    assert (stored.tokens, stored.updated_at) == (0.0, T0)
    with db.session() as session:  # another process, the same bucket
        assert rate_limit.grant(session, "twilio:channel:7", 3, 2.0, T0).granted == 0
        assert rate_limit.grant(session, "twilio:channel:8", 3, 2.0, T0).granted == 2
    with db.session() as session:
        assert rate_limit.grant(session, "twilio:channel:7", 3, 2.0, T0 + seconds(1)).granted == 2


def test_a_rolled_back_grant_spends_nothing(db) -> None:
    with db.session() as session:
        rate_limit.grant(session, "africastalking:env", 1, 5.0, T0)
    with pytest.raises(RuntimeError), db.session() as session:
        assert rate_limit.grant(session, "africastalking:env", 4, 5.0, T0).granted == 4
        raise RuntimeError("the mark failed: no rows sent, so no tokens spent")
    assert bucket_row(db, "africastalking:env").tokens == 4.0


def test_bucket_keys_name_the_channel_or_the_environment() -> None:
    assert bucket_key(Credentials("twilio", 7, "+1")) == "twilio:channel:7"
    assert bucket_key(Credentials("africastalking", None, "HEARD")) == "africastalking:env"


# --- two workers, one rate -----------------------------------------------------------------


def sent_count(db) -> int:
    with db.session() as session:
        return session.scalar(
            sa.select(sa.func.count())
            .select_from(m.OutboundMessage)
            .where(m.OutboundMessage.status == "sent")
        )


def test_two_workers_together_send_at_the_rate_not_twice_it(
    db, settings, clock, organisation, fake_at
) -> None:
    rate, steps, step = 20.0, 30, 0.1
    seed(db, organisation, 300)
    workers = [Outbox(db, settings, clock, rates={"africastalking": rate}) for _ in range(2)]
    sent = [0, 0]
    for tick in range(steps + 1):
        for index in (tick % 2, 1 - tick % 2):  # each goes first every other tick
            report = workers[index].drain_once(batch_size=500)
            sent[index] += report.sent
        if tick < steps:
            clock.advance(seconds=step)

    elapsed = steps * step
    assert sum(sent) == sent_count(db) == sum(fake_at.send_counts.values())
    assert sum(sent) <= rate * elapsed + rate  # at most rate × T + the burst
    assert sum(sent) >= rate * elapsed  # and not starved: the limit is the rate itself
    assert all(n > 0 for n in sent), sent


def test_throttled_rows_wait_for_the_next_token_and_keep_the_report_count(
    db, settings, clock, organisation, fake_at
) -> None:
    seed(db, organisation, 30)
    first = Outbox(db, settings, clock, rates={"africastalking": 10.0})
    second = Outbox(db, settings, clock, rates={"africastalking": 10.0})

    report = first.drain_once()
    assert (report.claimed, report.sent, report.throttled) == (30, 10, 20)
    assert second.drain_once().claimed == 0  # deferred, not merely unsent
    clock.advance(seconds=0.1)  # the next token
    report = second.drain_once()
    assert (report.claimed, report.sent, report.throttled) == (20, 1, 19)
    with db.session() as session:
        due = session.scalars(
            sa.select(m.OutboundMessage.next_attempt_at).where(m.OutboundMessage.status == "queued")
        ).all()
    assert set(due) == {clock.now() + seconds(0.1)}


def test_later_calls_on_an_empty_bucket_are_deferred_without_asking_again(
    db, settings, clock, organisation, fake_at
) -> None:
    seed(db, organisation, 250)  # three bulk requests of at most 100 recipients
    outbox = Outbox(db, settings, clock, rates={"africastalking": 50.0})
    statements: list[str] = []

    def remember(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", remember)
    try:
        report = outbox.drain_once(batch_size=500)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", remember)
    assert (report.sent, report.throttled) == (50, 200)
    assert [len(r.first("to").split(",")) for r in fake_at.send_requests] == [50]
    grants = [s for s in statements if s.startswith("UPDATE send_rate_buckets")]
    assert len(grants) == 1  # one grant for the drain, not one per call
    # and the bucket left for the next drain is empty, due in 1/50 s
    assert bucket_row(db, "africastalking:env").tokens == 0.0


def test_the_bucket_is_not_locked_during_the_provider_call(
    db, settings, clock, organisation, fake_at
) -> None:
    seed(db, organisation, 5)
    granted_meanwhile: list[int] = []

    class AnotherWorkerMeanwhile(Providers):
        def get(self, credentials):
            return Meanwhile(super().get(credentials))

    class Meanwhile:
        def __init__(self, provider):
            self.provider = provider

        def calls(self, messages):
            return self.provider.calls(messages)

        def send_batch(self, messages):
            # SQLite would wait 30 s for a held write lock; PostgreSQL is told not to wait.
            other = Database(db.url)
            try:
                with other.session() as session:
                    if not other.is_sqlite:
                        session.execute(sa.text("SET LOCAL lock_timeout = '1s'"))
                    grant = rate_limit.grant(session, "africastalking:env", 1, 1000.0, T0)
                    granted_meanwhile.append(grant.granted)
            finally:
                other.dispose()
            return self.provider.send_batch(messages)

    outbox = Outbox(
        db,
        settings,
        clock,
        rates={"africastalking": 1000.0},
        providers=AnotherWorkerMeanwhile(settings),
    )
    assert outbox.drain_once().sent == 5
    assert granted_meanwhile == [1]


# --- real concurrency (PostgreSQL) ------------------------------------------------------------

RACE_KEY = "twilio:channel:1"
RACE_RATE = 50.0


def _race(url: str, step: float, asks: int, start, results) -> None:
    """One racer: its own engine (as a worker process has), `asks` grants of 3 tokens, the
    k-th at T0 + k × step on its own clock."""
    database = Database(url)
    granted = 0
    try:
        start.wait()
        for k in range(asks):
            with database.session() as session:
                now = T0 + seconds(k * step)
                granted += rate_limit.grant(session, RACE_KEY, 3, RACE_RATE, now).granted
    finally:
        database.dispose()
    results.put(granted)


@pytest.mark.postgres_only
@pytest.mark.skipif(not is_postgres(), reason="SQLite serialises every writer anyway")
@pytest.mark.parametrize("racers", ["threads", "processes"])
@pytest.mark.parametrize("step", [0.0, 0.01])
def test_racing_workers_never_overgrant(database_url, racers, step) -> None:
    count, asks = 8, 20
    if racers == "threads":
        start, results = threading.Barrier(count), queue.Queue()
        runners = [
            threading.Thread(target=_race, args=(database_url, step, asks, start, results))
            for _ in range(count)
        ]
    else:
        context = mp.get_context("spawn")
        start, results = context.Barrier(count), context.Queue()
        runners = [
            context.Process(target=_race, args=(database_url, step, asks, start, results))
            for _ in range(count)
        ]
    for runner in runners:
        runner.start()
    totals = [results.get(timeout=120) for _ in runners]
    for runner in runners:
        runner.join(timeout=60)

    # 8 × 20 asks of 3 tokens. At one instant: exactly the burst. Over 0.19 s of clock
    # (racers at different points of it, so often "behind"): at most the burst plus 0.19 s
    # worth, and never less than the burst.
    elapsed = (asks - 1) * step
    assert RACE_RATE <= sum(totals) <= RACE_RATE + RACE_RATE * elapsed
    if step == 0.0:
        assert sum(totals) == RACE_RATE
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            keys = connection.execute(sa.text("SELECT key FROM send_rate_buckets")).scalars()
            assert list(keys) == [RACE_KEY]  # created once, whoever got there first
    finally:
        engine.dispose()
