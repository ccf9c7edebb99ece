"""Queued inbound (`HEARD_INBOUND_MODE=queued`): accept a message now, answer it soon.

Why: inline, an SMS webhook runs the engine before it answers, and on 2 cores that is
~230 answers a second. A national poll's replies come in bursts far above that; inline,
requests then wait in the web server's backlog until the provider gives up, and Twilio
does not retry an inbound-message webhook that timed out: the person's reply is lost.
Queued, the webhook checks the signature, stores the message (a provider's duplicate is
ignored by the unique provider id, as inline) and answers in milliseconds; `heard worker`
runs the engine over stored messages. A backlog is rows in the database, never lost.

Order: one person's messages are handled one at a time, in the order they arrived,
however many workers run. A worker takes the oldest waiting message whose sender has no
older one waiting (a message being handled stays waiting until its transaction commits),
locked with SKIP LOCKED on PostgreSQL (`_take_next`); SQLite's single writer serialises
workers anyway.

Each message is handled in its own transaction, exactly as inline: the engine stamps
`processed_at` in the commit that holds its replies and state, so a worker killed
mid-message leaves it waiting, and the next worker handles it once. A message the engine
fails on (a bug, not the database) is stamped with the error rather than holding back its
sender's later messages forever; with the database down everything simply waits.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from functools import cache

import sqlalchemy as sa

from bot.engine import Engine, inbound_values
from bot.messages import Channel, InboundMessage
from storage import models as m
from storage import queries
from storage.db import Database

log = logging.getLogger(__name__)

BATCH = 100
# Oldest waiting messages looked at per pick: more than workers, so that rows in other
# workers' hands leave some to take.
WINDOW = 50
WINDOW_IDS = 4 * WINDOW
_INBOUND = m.InboundMessage.__table__
_MESSAGE_COLUMNS = [
    _INBOUND.c[name]
    for name in (
        "id",
        "organisation_id",
        "channel",
        "provider",
        "provider_message_id",
        "sender",
        "text",
        "link_id",
    )
]


@dataclass(frozen=True)
class InboxReport:
    handled: int = 0
    duplicates: int = 0
    failed: int = 0

    @property
    def taken(self) -> int:
        return self.handled + self.duplicates + self.failed


def accept(db: Database, message: InboundMessage, now: datetime) -> bool:
    """Store `message` for a worker to handle; False when the provider already delivered
    it (stored before, handled or not)."""
    if message.organisation_id is None:
        raise ValueError("a queued message needs its organisation")
    with db.session() as session:
        values = inbound_values(message, message.organisation_id, now)
        return queries.record_inbound(session, {**values, "processed_at": None}) is not None


def handle_waiting(engine: Engine, *, limit: int = BATCH) -> InboxReport:
    """Handle up to `limit` waiting messages, each in its own transaction, oldest first.

    Database errors propagate (the worker waits for the database); nothing is lost by
    them, as the message being handled stays waiting.
    """
    tally: Counter[str] = Counter()
    # One pooled connection for the whole batch: each message's transaction then skips
    # the pool's checkout ping, a round trip each.
    with engine.db.engine.connect() as connection:
        for _ in range(limit):
            try:
                outcome = _handle_next(engine, connection)
            except sa.exc.IntegrityError:
                # A racing copy of the same new participant won the insert (as Engine.handle).
                outcome = _handle_next(engine, connection)
            if outcome is None:
                break
            tally[outcome] += 1
    return InboxReport(**tally)


# How many messages wait to be handled (the operator's backlog; the benchmarks poll it).
WAITING = sa.select(sa.func.count()).select_from(_INBOUND).where(_INBOUND.c.processed_at.is_(None))


def waiting(db: Database) -> int:
    with db.session() as session:
        return session.scalar(WAITING)


def _handle_next(engine: Engine, connection: sa.Connection) -> str | None:
    """Handle the next message in a transaction of its own on `connection`; which
    outcome it had, or None when none could be taken."""
    with engine.db.session(bind=connection) as session:
        row = _take_next(session)
        if row is None:
            return None
        try:
            outcome = engine.handle_in(session, _message(row), stored_id=row.id)
        except (sa.exc.DBAPIError, sa.exc.TimeoutError):
            raise
        except Exception as error:  # the engine failed on this message: not transient
            log.exception("inbound message %s could not be handled; giving up on it", row.id)
            session.rollback()
            _give_up(session, row.id, error, engine.clock.now())
            return "failed"
        return "duplicates" if outcome.duplicate else "handled"


def _take_next(session) -> sa.Row | None:
    """The oldest waiting message whose sender has no older one waiting, locked.

    Two index-driven steps, not one anti-join: PostgreSQL planned that join from the
    table's statistics, and planned against a table analysed while small (a new
    deployment, a burst faster than autovacuum) it scanned the table once per row,
    0.3-0.45 s per message at a 3,000-message backlog. Here the WINDOW oldest waiting
    rows come off the partial index in id order without locks, so rows other workers
    are handling still count as waiting. Only a sender's first row among them may be
    handled, and it is taken if its lock is free (SKIP LOCKED) and it still waits. A
    window made only of rows in other workers' hands (or of one sender's) yields nothing
    this time; the worker comes back for it.

    The window is bounded by ids too (the oldest waiting one + WINDOW_IDS, the first
    entry of the partial index, whatever the statistics say): planned
    for the handful of waiting rows the statistics of a mostly handled table promise,
    the plain "ORDER BY id LIMIT" read every waiting row and sorted them, a cost that
    grew with the backlog.
    """
    dialect = session.get_bind().dialect.name
    seen: set[tuple[int, str | None]] = set()
    for candidate in session.execute(_WINDOW):
        sender = (candidate.organisation_id, candidate.sender)
        if sender in seen:
            continue  # an older message of theirs waits, or is being handled
        seen.add(sender)
        row = session.execute(_take_statement(dialect), {"id": candidate.id}).first()
        if row is not None:
            return row
    return None


# Not min(id): planned for the one waiting row the statistics promise, min() read every
# waiting row's index entry; ORDER BY ... LIMIT 1 stops at the first.
_OLDEST_WAITING = (
    sa.select(_INBOUND.c.id)
    .where(_INBOUND.c.processed_at.is_(None))
    .order_by(_INBOUND.c.id)
    .limit(1)
    .scalar_subquery()
)
_WINDOW = (
    sa.select(_INBOUND.c.id, _INBOUND.c.organisation_id, _INBOUND.c.sender)
    .where(_INBOUND.c.processed_at.is_(None), _INBOUND.c.id < _OLDEST_WAITING + WINDOW_IDS)
    .order_by(_INBOUND.c.id)
    .limit(WINDOW)
)


@cache
def _take_statement(dialect: str) -> sa.Select:
    """One waiting message by id, locked unless another worker holds it (built once
    per dialect: building it cost more CPU than running it)."""
    query = sa.select(*_MESSAGE_COLUMNS).where(
        _INBOUND.c.id == sa.bindparam("id"), _INBOUND.c.processed_at.is_(None)
    )
    if dialect == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return query


def _message(row: sa.Row) -> InboundMessage:
    return InboundMessage(
        sender=row.sender or "",
        text=row.text or "",
        channel=Channel(row.channel),
        organisation_id=row.organisation_id,
        provider=row.provider,
        provider_message_id=row.provider_message_id,
        link_id=row.link_id,
    )


def _give_up(session, inbound_id: int, error: Exception, now: datetime) -> None:
    reason = f"{type(error).__name__}: {error}"
    session.execute(
        sa.update(_INBOUND)
        .where(_INBOUND.c.id == inbound_id, _INBOUND.c.processed_at.is_(None))
        .values(processed_at=now, error=reason[:255])
    )
