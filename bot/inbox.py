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
locked with SKIP LOCKED on PostgreSQL; SQLite's single writer serialises workers anyway.

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
_INBOUND = m.InboundMessage.__table__
_EARLIER = _INBOUND.alias("earlier")
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


def waiting(db: Database) -> int:
    """How many messages wait to be handled (for the operator and the benchmarks)."""
    with db.session() as session:
        return session.scalar(
            sa.select(sa.func.count())
            .select_from(_INBOUND)
            .where(_INBOUND.c.processed_at.is_(None))
        )


def _handle_next(engine: Engine, connection: sa.Connection) -> str | None:
    """Handle the next message in a transaction of its own on `connection`; which
    outcome it had, or None when none was waiting."""
    with engine.db.session(bind=connection) as session:
        row = session.execute(_next_waiting(session.get_bind().dialect.name)).first()
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


@cache
def _next_waiting(dialect: str) -> sa.Select:
    """The oldest waiting message whose sender has no older one waiting (built once per
    dialect: building it cost more CPU than running it)."""
    earlier_waiting = sa.exists().where(
        _EARLIER.c.processed_at.is_(None),
        _EARLIER.c.organisation_id == _INBOUND.c.organisation_id,
        _EARLIER.c.sender == _INBOUND.c.sender,
        _EARLIER.c.id < _INBOUND.c.id,
    )
    query = (
        sa.select(*_MESSAGE_COLUMNS)
        .where(_INBOUND.c.processed_at.is_(None), ~earlier_waiting)
        .order_by(_INBOUND.c.id)
        .limit(1)
    )
    if dialect == "postgresql":
        query = query.with_for_update(skip_locked=True, of=_INBOUND)
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
