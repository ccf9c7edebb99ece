"""Queries shared by the engine, the gateways and the panel.

Views and flows call these instead of building SQL themselves, so every rule about what
may be read or written (organisation scoping, de-duplication, locking) lives in one place.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from storage import models as m


def default_organisation(session: so.Session) -> m.Organisation | None:
    return session.scalar(sa.select(m.Organisation).order_by(m.Organisation.id).limit(1))


def organisation_by_slug(session: so.Session, slug: str) -> m.Organisation | None:
    return session.scalar(sa.select(m.Organisation).where(m.Organisation.slug == slug))


def participant_for_update(
    session: so.Session, organisation_id: int, phone: str
) -> m.Participant | None:
    """The participant, row-locked on PostgreSQL so two racing replies take turns."""
    return session.scalar(
        sa.select(m.Participant)
        .where(m.Participant.organisation_id == organisation_id, m.Participant.phone == phone)
        .with_for_update()
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


def record_inbound(session: so.Session, row: m.InboundMessage) -> bool:
    """Store an inbound message; False when the provider already delivered it."""
    if row.provider_message_id:
        exists = session.scalar(
            sa.select(m.InboundMessage.id).where(
                m.InboundMessage.provider == row.provider,
                m.InboundMessage.provider_message_id == row.provider_message_id,
            )
        )
        if exists is not None:
            return False
    try:
        with session.begin_nested():
            session.add(row)
    except sa.exc.IntegrityError:
        return False  # the racing copy won; it answers
    return True


def active_session(session: so.Session, participant_id: int) -> m.ConversationSession | None:
    return session.scalar(
        sa.select(m.ConversationSession).where(
            m.ConversationSession.participant_id == participant_id,
            m.ConversationSession.status == "active",
        )
    )


def next_queued_session(
    session: so.Session, participant_id: int
) -> m.ConversationSession | None:
    return session.scalar(
        sa.select(m.ConversationSession)
        .where(
            m.ConversationSession.participant_id == participant_id,
            m.ConversationSession.status == "queued",
        )
        .order_by(m.ConversationSession.created_at, m.ConversationSession.id)
        .limit(1)
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


def text_overrides(session: so.Session, organisation_id: int) -> dict[tuple[str, str], str]:
    rows = session.execute(
        sa.select(m.TextOverride.language, m.TextOverride.msgid, m.TextOverride.text).where(
            m.TextOverride.organisation_id == organisation_id
        )
    )
    return {(language, msgid): text for language, msgid, text in rows}


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
    rows = list(rows)
    session.add_all(rows)
    session.flush()
    for row in rows:
        session.add(
            m.MessageStatusEvent(outbound_message_id=row.id, status=row.status, detail="created")
        )
    return rows


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
