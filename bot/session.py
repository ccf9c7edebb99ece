"""Sessions outside a reply: queuing polls for outreach, reminders and expiry.

One active session per participant (a partial unique index enforces it); a poll that
comes due while someone is mid-conversation waits `queued` and starts when the current
one completes or expires. The scheduler calls `expire_sessions` every few minutes: a
session that has waited 80% of the organisation's timeout gets one reminder repeating its
question, and an overdue one is marked `expired` so that the next queued poll can start.
Messages started here are outreach (`is_reply=False`): the outbox holds them during quiet
hours.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so

from bot.consent import has_current_consent
from bot.flows.runtime import Turn, flow_named, resume_next
from bot.render import outbound_rows
from bot.texts import Texts
from nlu.interpretation import Interpreter
from storage import models as m
from storage import queries

REMINDER_AT = 0.8  # of the timeout: late enough not to nag, early enough to still answer
REMINDED_FLOWS = frozenset({"poll", "profile"})
UNREACHABLE = frozenset({"opted_out", "erased", "declined"})


@dataclass(frozen=True)
class SessionChange:
    session_id: int
    participant_id: int
    action: str  # reminded | expired | started
    outbound_ids: tuple[int, ...] = field(default_factory=tuple)


def queue_poll(
    db: so.Session,
    participant: m.Participant,
    poll_version_id: int,
    launch_id: int | None = None,
    *,
    now: datetime,
) -> m.ConversationSession | None:
    """Queue a poll for the participant (idempotent per launch and per open poll).

    Never activates it: call `start_queued` (or let the engine do it at the next reply).
    None for people who must not be polled.
    """
    if participant.status in UNREACHABLE:
        return None
    existing = db.scalar(
        sa.select(m.ConversationSession)
        .where(
            m.ConversationSession.participant_id == participant.id,
            sa.or_(
                m.ConversationSession.launch_id == launch_id
                if launch_id is not None
                else sa.false(),
                sa.and_(
                    m.ConversationSession.poll_version_id == poll_version_id,
                    m.ConversationSession.status.in_(("active", "queued")),
                ),
            ),
        )
        .limit(1)
    )
    if existing is not None:
        return existing
    session = m.ConversationSession(
        participant_id=participant.id,
        flow="poll",
        poll_version_id=poll_version_id,
        launch_id=launch_id,
        status="queued",
        channel=participant.channel,
        state={},
        created_at=now,
        updated_at=now,
    )
    db.add(session)
    db.flush()
    return session


def start_queued(
    db: so.Session,
    participant: m.Participant,
    *,
    now: datetime,
    interpreter: Interpreter | None = None,
    texts: Texts | None = None,
) -> list[m.OutboundMessage]:
    """Start the participant's next queued session if they are free; the outbox rows of
    its first question (outreach, so quiet hours apply)."""
    turn = _turn(db, participant, now, interpreter, texts)
    session = resume_next(turn)
    if session is None:
        return []
    return _queue_replies(turn, session)


def expire_sessions(
    db: so.Session,
    now: datetime,
    *,
    interpreter: Interpreter | None = None,
    texts: Texts | None = None,
) -> list[SessionChange]:
    """Remind once before expiry, expire what is overdue, start what was waiting."""
    changes: list[SessionChange] = []
    for organisation in db.scalars(sa.select(m.Organisation)).all():
        timeout = timedelta(minutes=organisation.session_timeout_minutes)
        horizon = now + timeout * (1 - REMINDER_AT)
        rows = db.execute(
            sa.select(m.ConversationSession, m.Participant)
            .join(m.Participant, m.Participant.id == m.ConversationSession.participant_id)
            .where(
                m.Participant.organisation_id == organisation.id,
                m.ConversationSession.status == "active",
                m.ConversationSession.expires_at.is_not(None),
                m.ConversationSession.expires_at <= horizon,
            )
            .order_by(m.ConversationSession.id)
            # A reply being handled right now holds the participant: skip, next run.
            .with_for_update(of=m.Participant, skip_locked=True)
        ).all()
        for session, participant in rows:
            turn = _turn(db, participant, now, interpreter, texts, organisation)
            if session.expires_at <= now:
                changes.extend(_expire(turn, session))
            elif _due_reminder(session, participant, organisation):
                changes.append(_remind(turn, session))
    return changes


def _due_reminder(
    session: m.ConversationSession, participant: m.Participant, organisation: m.Organisation
) -> bool:
    return (
        session.reminders_sent == 0
        and session.flow in REMINDED_FLOWS
        and has_current_consent(participant, organisation)
    )


def _remind(turn: Turn, session: m.ConversationSession) -> SessionChange:
    turn.say("session.reminder")
    flow_named(session.flow).start(turn, session)
    session.reminders_sent += 1
    rows = _queue_replies(turn, session)
    return SessionChange(session.id, session.participant_id, "reminded", _ids(rows))


def _expire(turn: Turn, session: m.ConversationSession) -> list[SessionChange]:
    session.status = "expired"
    session.updated_at = turn.now
    turn.db.flush()
    changes = [SessionChange(session.id, session.participant_id, "expired")]
    started = resume_next(turn)
    if started is not None:
        rows = _queue_replies(turn, started)
        changes.append(SessionChange(started.id, started.participant_id, "started", _ids(rows)))
    return changes


def _queue_replies(turn: Turn, session: m.ConversationSession) -> list[m.OutboundMessage]:
    rows = list(outbound_rows(turn))
    for row in rows:
        row.session_id = session.id
        row.launch_id = session.launch_id
    turn.replies.clear()
    return queries.add_outbound(turn.db, rows)


def _turn(
    db: so.Session,
    participant: m.Participant,
    now: datetime,
    interpreter: Interpreter | None,
    texts: Texts | None,
    organisation: m.Organisation | None = None,
) -> Turn:
    organisation = organisation or db.get(m.Organisation, participant.organisation_id)
    if interpreter is None:
        from nlu import BuiltinInterpreter

        interpreter = BuiltinInterpreter()
    return Turn(
        db=db,
        organisation=organisation,
        participant=participant,
        texts=texts or Texts(queries.text_overrides(db, organisation.id)),
        interpreter=interpreter,
        now=now,
        channel=participant.channel,
    )


def _ids(rows: list[m.OutboundMessage]) -> tuple[int, ...]:
    return tuple(row.id for row in rows)
