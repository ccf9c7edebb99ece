"""A send rate shared by every worker of a deployment: token buckets in the database.

A provider throttles or rejects an account above its provisioned rate (a Twilio long code
~1 message/s, Africa's Talking per account), whatever number of `heard worker` processes
send for it. A bucket in each process let M workers send M times the rate; a bucket row
per key (`send_rate_buckets`) makes them share it.

`grant` runs inside the caller's transaction so the tokens are spent in the same commit
that marks the rows `sending` (a crash spends neither), and it holds the bucket row's lock
until that commit: the caller commits before its provider call, never after. On
PostgreSQL the lock is `SELECT … FOR UPDATE` of the row; on SQLite the write lock that
every transaction takes at BEGIN (storage/db.py) serialises grants anyway. The arithmetic
is one pure function, `take`, on the caller's clock, so tests with a fake clock see refills
exactly; the workers' clocks must agree (NTP), see `take`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.dialects import postgresql, sqlite

from storage import models as m
from storage import queries

_BUCKETS = m.SendRateBucket.__table__

# Floating point: 0.1 s at 10/s must be one whole token, not 0.9999999999999999.
_EPSILON = 1e-9


@dataclass(frozen=True)
class Grant:
    """Tokens granted (whole, 0..wanted) and, if fewer than wanted, how long until the
    next one: when the rest are worth trying again."""

    granted: int
    wait: timedelta


@dataclass(frozen=True)
class Bucket:
    tokens: float
    updated_at: datetime


def capacity(rate: float) -> float:
    """The burst: one second's worth, and at least one message."""
    return max(rate, 1.0)


def take(bucket: Bucket, wanted: int, rate: float, now: datetime) -> tuple[Grant, Bucket]:
    """Refill `bucket` up to `now`, then take up to `wanted` whole tokens.

    Time never runs backwards for a bucket: a `now` before its `updated_at` (a clock behind
    another worker's, or stepped back) refills nothing and leaves `updated_at` where it
    is, so skew can only slow sending down, never let more through than the rate.
    """
    rate = max(rate, 0.001)
    elapsed = max((now - bucket.updated_at).total_seconds(), 0.0)
    tokens = min(capacity(rate), bucket.tokens + elapsed * rate)
    granted = max(0, min(wanted, math.floor(tokens + _EPSILON)))
    tokens = max(tokens - granted, 0.0)
    wait = 0.0 if granted == wanted else max(1.0 - tokens, 0.0) / rate
    return Grant(granted, timedelta(seconds=wait)), Bucket(tokens, max(now, bucket.updated_at))


def grant(session: so.Session, key: str, wanted: int, rate: float, now: datetime) -> Grant:
    """Up to `wanted` tokens from the bucket `key` (e.g. "twilio:channel:7"), in the
    caller's transaction, which keeps the bucket locked until it ends: commit soon.

    Two statements when the bucket exists (lock and read, write back); a new bucket starts
    full, inserted with ON CONFLICT DO NOTHING so two workers creating it at once agree.
    """
    if wanted <= 0:
        return Grant(0, timedelta(0))
    found = _locked(session, key)
    if found is None:
        session.execute(
            _insert(session)
            .values(key=key, tokens=capacity(rate), updated_at=now)
            .on_conflict_do_nothing(index_elements=["key"])
        )
        found = _locked(session, key)
        assert found is not None  # inserted, by us or by whoever won the race
    result, bucket = take(found, wanted, rate, now)
    session.execute(
        sa.update(_BUCKETS)
        .where(_BUCKETS.c.key == key)
        .values(tokens=bucket.tokens, updated_at=bucket.updated_at)
    )
    return result


def _locked(session: so.Session, key: str) -> Bucket | None:
    row = session.execute(
        sa.select(_BUCKETS.c.tokens, _BUCKETS.c.updated_at)
        .where(_BUCKETS.c.key == key)
        .with_for_update()  # omitted on SQLite, where BEGIN IMMEDIATE holds the lock
    ).first()
    return None if row is None else Bucket(row.tokens, row.updated_at)


def _insert(session: so.Session):
    if queries.is_postgres(session):
        return postgresql.insert(_BUCKETS)
    return sqlite.insert(_BUCKETS)
