"""What every flow works with, and how sessions start, finish and hand over.

A flow is a small object with `start(turn, session)` and `receive(turn, session, text)`.
`start` asks the session's current step, so calling it again on a resumed (or interrupted)
session repeats the question instead of starting over. A flow appends replies to the turn
and calls `finish()` when done; the runtime then activates the participant's next queued
session, so one person is never in two conversations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

import sqlalchemy.orm as so

from bot.consent import has_current_consent
from bot.messages import Reply
from bot.texts import Texts
from nlu.interpretation import ChoiceOption, Interpretation, Interpreter
from storage import models as m
from storage import queries


@dataclass
class Turn:
    """One inbound message being handled (or one outreach step): the context flows need."""

    db: so.Session
    organisation: m.Organisation
    participant: m.Participant
    texts: Texts
    interpreter: Interpreter
    now: datetime
    channel: str = "sms"
    replies: list[Reply] = field(default_factory=list)
    # The stored inbound message being answered (None for scheduler turns): progress
    # reports hang on it so that a message is never counted twice.
    inbound_id: int | None = None

    @property
    def language(self) -> str:
        return self.participant.language or self.organisation.default_language or "en"

    def say(self, key: str, **params: object) -> None:
        text = self.texts.get(key, self.language, org=self.organisation.name, **params)
        self.replies.append(Reply(text=text, language=self.language))

    def say_text(self, text: str, *, end_session: bool = False) -> None:
        self.replies.append(Reply(text=text, language=self.language, end_session=end_session))

    def interpret(self, text: str, choices: list[ChoiceOption] | None = None) -> Interpretation:
        return self.interpreter.parse(text, language_hint=self.language, choices=choices)


class Flow(Protocol):
    name: str

    def start(self, turn: Turn, session: m.ConversationSession) -> None: ...

    def receive(self, turn: Turn, session: m.ConversationSession, text: str) -> None: ...


_FLOWS: dict[str, Flow] = {}


def register(flow: Flow) -> Flow:
    _FLOWS[flow.name] = flow
    return flow


def flow_named(name: str) -> Flow:
    return _FLOWS[name]


def open_session(
    turn: Turn,
    flow: str,
    *,
    poll_version_id: int | None = None,
    launch_id: int | None = None,
    interrupt: bool = False,
    state: dict | None = None,
) -> m.ConversationSession:
    """Start a flow now, or queue it behind the participant's active session.

    `interrupt` is for short keyword flows (language, erasure): the active session steps
    back into the queue, keeping its place and answers, and resumes afterwards.
    """
    current = queries.active_session(turn.db, turn.participant.id)
    if current is not None and interrupt:
        current.status = "queued"
        turn.db.flush()
        current = None
    session = m.ConversationSession(
        participant_id=turn.participant.id,
        flow=flow,
        poll_version_id=poll_version_id,
        launch_id=launch_id,
        status="queued" if current is not None else "active",
        channel=turn.channel,
        state=dict(state or {}),
        created_at=turn.now,
        updated_at=turn.now,
        expires_at=turn.now + timedelta(minutes=turn.organisation.session_timeout_minutes),
    )
    turn.db.add(session)
    turn.db.flush()
    if session.status == "active":
        flow_named(flow).start(turn, session)
    return session


# Flows anyone may be in, consented or not: the consent question itself, and the keyword
# flows a person can use before (or instead of) agreeing.
CONSENT_FREE_FLOWS = frozenset({"consent", "language", "erasure"})


def finish(
    turn: Turn, session: m.ConversationSession, *, status: str = "completed", resume: bool = True
) -> None:
    """Close a session and (unless the caller decides what comes next) let the next queued
    one speak."""
    # At most one session is active (a unique index): closing it leaves none, so the
    # next one need not look for one.
    was_active = session.status == "active"
    session.status = status
    session.completed_at = turn.now
    session.updated_at = turn.now
    turn.db.flush()
    if resume:
        resume_next(turn, known_idle=was_active)


def resume_next(turn: Turn, *, known_idle: bool = False) -> m.ConversationSession | None:
    """Activate the oldest queued session the participant may be in now.

    Polls wait while consent is missing or outdated (they stay queued, not cancelled);
    consent and keyword flows do not. `known_idle`: the caller knows no session is active.
    """
    participant = turn.participant
    if participant.status in ("opted_out", "erased"):
        return None
    if not known_idle and queries.active_session(turn.db, participant.id) is not None:
        return None
    consented = has_current_consent(participant, turn.organisation)
    queued = [
        session
        for session in queries.queued_sessions(turn.db, participant.id)
        if consented or session.flow in CONSENT_FREE_FLOWS
    ]
    if not queued:
        return None
    session = queued[0]
    session.status = "active"
    session.updated_at = turn.now
    session.expires_at = turn.now + timedelta(minutes=turn.organisation.session_timeout_minutes)
    turn.db.flush()
    flow_named(session.flow).start(turn, session)
    return session


def repeat_current(turn: Turn) -> bool:
    """Ask the active session's question again (after HELP, a language change, a report
    sent mid-poll), so the person can simply carry on."""
    session = queries.active_session(turn.db, turn.participant.id)
    if session is None:
        return False
    flow_named(session.flow).start(turn, session)
    return True
