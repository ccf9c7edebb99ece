"""Queries shared by the engine, the gateways and the panel.

Views and flows call these instead of building SQL themselves, so every rule about what
may be read or written (organisation scoping, de-duplication, locking) lives in one place.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import cache
from types import MappingProxyType
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.dialects import postgresql, sqlite

from storage import models as m
from storage.cache import cached


def default_organisation(session: so.Session) -> m.Organisation | None:
    return session.scalar(sa.select(m.Organisation).order_by(m.Organisation.id).limit(1))


def organisation_by_slug(session: so.Session, slug: str) -> m.Organisation | None:
    return session.scalar(sa.select(m.Organisation).where(m.Organisation.slug == slug))


def participant_for_update(
    session: so.Session, organisation_id: int, phone: str
) -> m.Participant | None:
    """The participant, row-locked on PostgreSQL so two racing replies take turns."""
    return session.scalar(
        _PARTICIPANT_FOR_UPDATE, {"organisation_id": organisation_id, "phone": phone}
    )


def sender_for_update(
    session: so.Session, organisation_id: int, phone: str
) -> tuple[m.Participant, m.Organisation] | None:
    """The sender, row-locked, and their organisation, in one round trip: every inbound
    message needs both. Only the participant is locked (`FOR UPDATE OF`); the
    organisation is configuration, never written on this path."""
    row = session.execute(
        _SENDER_FOR_UPDATE, {"organisation_id": organisation_id, "phone": phone}
    ).first()
    return None if row is None else (row[0], row[1])


# Built once: constructing a statement costs more CPU than a loopback round trip, and the
# hot path runs these on every message.
_SENDER = (
    m.Participant.organisation_id == sa.bindparam("organisation_id"),
    m.Participant.phone == sa.bindparam("phone"),
)
_PARTICIPANT_FOR_UPDATE = sa.select(m.Participant).where(*_SENDER).with_for_update()
_SENDER_FOR_UPDATE = (
    sa.select(m.Participant, m.Organisation)
    .join(m.Organisation, m.Organisation.id == m.Participant.organisation_id)
    .where(*_SENDER)
    .with_for_update(of=m.Participant)
)


def get_or_create_participant(
    session: so.Session, organisation: m.Organisation, phone: str, *, channel: str, provider: str
) -> tuple[m.Participant, bool]:
    participant = participant_for_update(session, organisation.id, phone)
    if participant is not None:
        return participant, False
    participant = m.Participant(
        organisation_id=organisation.id,
        phone=phone,
        status="new",
        channel=channel,
        provider=provider,
    )
    # A savepoint: when the same new number races itself, the loser re-reads the winner's
    # row instead of failing the whole message.
    try:
        with session.begin_nested():
            session.add(participant)
    except sa.exc.IntegrityError:
        found = participant_for_update(session, organisation.id, phone)
        if found is None:
            raise
        return found, False
    return participant, True


def is_postgres(session: so.Session) -> bool:
    """Whether `session` talks to PostgreSQL (else SQLite): where the two take different
    statements (SKIP LOCKED, data-modifying CTEs, chunk sizes)."""
    return session.get_bind().dialect.name == "postgresql"


def insert_for(session: so.Session, model: type) -> Any:
    """The dialect's INSERT for `model`, which knows `ON CONFLICT DO NOTHING` (PostgreSQL
    and SQLite both do; plain `sa.insert` does not)."""
    if is_postgres(session):
        return postgresql.insert(model)
    return sqlite.insert(model)


def keep_first_answer(session: so.Session) -> Any:
    """INSERT of an answer that keeps the first one given to a question in a session (a
    provider's retry or a racing copy inserts nothing); execute it with the values."""
    return _keep_first_answer(session.get_bind().dialect.name)


@cache
def _keep_first_answer(dialect: str) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # On the table, not the class: the ORM's bulk-insert machinery cost more CPU than the
    # statement's round trip, and nothing here needs an ORM object back.
    table = m.Answer.__table__
    return insert(table).on_conflict_do_nothing(index_elements=["session_id", "question_key"])


def record_inbound(session: so.Session, values: dict[str, Any]) -> int | None:
    """Store an inbound message; its id, or None when the provider already delivered it.

    One statement: the unique (provider, provider_message_id) decides, so a duplicate
    costs no SELECT first and no savepoint, and a racing copy waits for the winner's
    commit and then inserts nothing.
    """
    return session.scalar(_record_inbound_statement(session.get_bind().dialect.name), values)


@cache
def _record_inbound_statement(dialect: str) -> Any:
    # Built once per dialect: constructing the statement cost more CPU than running it.
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = m.InboundMessage.__table__
    return (
        insert(table)
        .on_conflict_do_nothing(index_elements=["provider", "provider_message_id"])
        .returning(table.c.id)
    )


def take_stored_inbound(
    session: so.Session, inbound_id: int, participant_id: int, language: str | None, now: datetime
) -> bool:
    """Stamp a stored message handled, with who sent it; False when it already was (a
    racing worker won, or it was given up on)."""
    table = m.InboundMessage.__table__
    stamped = session.execute(
        sa.update(table)
        .where(table.c.id == inbound_id, table.c.processed_at.is_(None))
        .values(participant_id=participant_id, language=language, processed_at=now)
    )
    return stamped.rowcount == 1


def active_session(session: so.Session, participant_id: int) -> m.ConversationSession | None:
    return session.scalar(_ACTIVE_SESSION, {"participant_id": participant_id})


def queued_sessions(session: so.Session, participant_id: int) -> list[m.ConversationSession]:
    """Oldest first: the order in which they will be asked."""
    return list(session.scalars(_QUEUED_SESSIONS, {"participant_id": participant_id}))


_OF_PARTICIPANT = m.ConversationSession.participant_id == sa.bindparam("participant_id")
_ACTIVE_SESSION = sa.select(m.ConversationSession).where(
    _OF_PARTICIPANT, m.ConversationSession.status == "active"
)
_QUEUED_SESSIONS = (
    sa.select(m.ConversationSession)
    .where(_OF_PARTICIPANT, m.ConversationSession.status == "queued")
    .order_by(m.ConversationSession.created_at, m.ConversationSession.id)
)


def cancel_sessions(session: so.Session, participant_id: int, now: datetime) -> int:
    result = session.execute(
        sa.update(m.ConversationSession)
        .where(
            m.ConversationSession.participant_id == participant_id,
            m.ConversationSession.status.in_(("active", "queued")),
        )
        .values(status="cancelled", updated_at=now)
    )
    return result.rowcount or 0


def text_overrides(session: so.Session, organisation_id: int) -> Mapping[tuple[str, str], str]:
    """An organisation's own wordings; cached (storage/cache.py), hence read-only."""

    def load() -> Mapping[tuple[str, str], str]:
        rows = session.execute(
            sa.select(m.TextOverride.language, m.TextOverride.msgid, m.TextOverride.text).where(
                m.TextOverride.organisation_id == organisation_id
            )
        )
        return MappingProxyType({(language, msgid): text for language, msgid, text in rows})

    return cached(session, ("text_overrides", organisation_id), load)


def custom_keywords(session: so.Session, organisation_id: int) -> dict[str, tuple[str, str]]:
    rows = session.execute(
        sa.select(m.Keyword.word, m.Keyword.action, m.Keyword.argument).where(
            m.Keyword.organisation_id == organisation_id
        )
    )
    return {word: (action, argument) for word, action, argument in rows}


def record_status(
    session: so.Session,
    message: m.OutboundMessage,
    status: str,
    *,
    error_code: str | None = None,
    detail: str | None = None,
    now: datetime | None = None,
) -> None:
    """Change an outbound message's status and keep the change in its history."""
    message.status = status
    if error_code is not None:
        message.error_code = error_code
    if detail is not None:
        message.error = detail[:500]
    event = m.MessageStatusEvent(
        outbound_message_id=message.id, status=status, error_code=error_code, detail=detail
    )
    if now is not None:
        event.created_at = now
    session.add(event)


def add_outbound(session: so.Session, rows: Iterable[m.OutboundMessage]) -> list[m.OutboundMessage]:
    """Queue outbox rows (flushed, so they have ids).

    A row's creation is its own history's first entry (`created_at`, status `queued`):
    status events record what happens to it afterwards, so queueing writes none.
    """
    rows = list(rows)
    session.add_all(rows)
    session.flush()
    return rows


def queue_outbound(session: so.Session, values: list[dict[str, Any]]) -> int:
    """Queue outbox rows given as column values (bot.render.outbox_values): one
    executemany and no ORM objects, for replies and outreach that nothing reads back in
    the same transaction; how many were queued. No status event: as with `add_outbound`,
    a row's creation is its own history's first entry."""
    if values:
        session.execute(sa.insert(m.OutboundMessage.__table__), values)
    return len(values)


def audit(
    session: so.Session,
    *,
    organisation_id: int | None,
    user_id: int | None,
    action: str,
    target: str = "",
    detail: dict | None = None,
) -> None:
    session.add(
        m.AuditEvent(
            organisation_id=organisation_id,
            user_id=user_id,
            action=action,
            target=target,
            detail=detail or {},
        )
    )


# --- gateways and the outbox (sms_gateway) ------------------------------------------


def channel_by_address(session: so.Session, provider: str, address: str) -> m.Channel | None:
    """The active channel a provider delivered to (Twilio `To`, Africa's Talking `to`)."""
    return session.scalar(
        sa.select(m.Channel).where(
            m.Channel.provider == provider,
            m.Channel.address == address,
            m.Channel.active.is_(True),
        )
    )


def organisation_channels(
    session: so.Session, organisation_id: int, provider: str
) -> list[m.Channel]:
    return list(
        session.scalars(
            sa.select(m.Channel)
            .where(
                m.Channel.organisation_id == organisation_id,
                m.Channel.provider == provider,
                m.Channel.active.is_(True),
            )
            .order_by(m.Channel.id)
        )
    )


def outbound_by_provider_id(
    session: so.Session, provider: str, provider_message_id: str
) -> m.OutboundMessage | None:
    return session.scalar(
        sa.select(m.OutboundMessage)
        .where(
            m.OutboundMessage.provider == provider,
            m.OutboundMessage.provider_message_id == provider_message_id,
        )
        .order_by(m.OutboundMessage.id)
        .limit(1)
        .with_for_update()
    )


def stale_sending_outbound(
    session: so.Session, updated_before: datetime, limit: int, *, skip_locked: bool
) -> list[m.OutboundMessage]:
    """Rows left `sending` by a worker that stopped between the mark and the result."""
    query = (
        sa.select(m.OutboundMessage)
        .where(
            m.OutboundMessage.status == "sending",
            m.OutboundMessage.updated_at <= updated_before,
        )
        .order_by(m.OutboundMessage.id)
        .limit(limit)
    )
    if skip_locked:
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


def add_status_event(
    session: so.Session,
    message: m.OutboundMessage,
    status: str,
    *,
    error_code: str | None = None,
    detail: str | None = None,
    now: datetime | None = None,
) -> None:
    """Keep a report in the history without changing the status (a late, older report)."""
    event = m.MessageStatusEvent(
        outbound_message_id=message.id,
        status=status,
        error_code=error_code,
        detail=detail[:500] if detail else None,
    )
    if now is not None:
        event.created_at = now
    session.add(event)


def inbound_by_provider_id(
    session: so.Session, provider: str, provider_message_id: str
) -> m.InboundMessage | None:
    return session.scalar(
        sa.select(m.InboundMessage).where(
            m.InboundMessage.provider == provider,
            m.InboundMessage.provider_message_id == provider_message_id,
        )
    )


def replies_to(session: so.Session, inbound_id: int) -> list[m.OutboundMessage]:
    return list(
        session.scalars(
            sa.select(m.OutboundMessage)
            .where(m.OutboundMessage.in_reply_to_id == inbound_id)
            .order_by(m.OutboundMessage.id)
        )
    )


def queued_outbound_for(
    session: so.Session, participant_id: int, provider: str
) -> list[m.OutboundMessage]:
    return list(
        session.scalars(
            sa.select(m.OutboundMessage)
            .where(
                m.OutboundMessage.participant_id == participant_id,
                m.OutboundMessage.provider == provider,
                m.OutboundMessage.status == "queued",
            )
            .order_by(m.OutboundMessage.id)
            .with_for_update()
        )
    )
