"""What every flow works with, and how sessions start, finish and hand over.

A flow is a small object with `start(turn, session)` and `receive(turn, session, text)`.
It appends replies to the turn and calls `finish()` when done; the runtime then activates
the participant's next queued session, so one person is never in two conversations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

import sqlalchemy.orm as so

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
        state={},
        created_at=turn.now,
        updated_at=turn.now,
        expires_at=turn.now + timedelta(minutes=turn.organisation.session_timeout_minutes),
    )
    turn.db.add(session)
    turn.db.flush()
    if session.status == "active":
        flow_named(flow).start(turn, session)
    return session


def finish(turn: Turn, session: m.ConversationSession, *, status: str = "completed") -> None:
    """Close a session and let the next queued one speak."""
    session.status = status
    session.completed_at = turn.now
    session.updated_at = turn.now
    turn.db.flush()
    resume_next(turn)


def resume_next(turn: Turn) -> m.ConversationSession | None:
    if turn.participant.status != "active":
        return None
    if queries.active_session(turn.db, turn.participant.id) is not None:
        return None
    queued = queries.next_queued_session(turn.db, turn.participant.id)
    if queued is None:
        return None
    queued.status = "active"
    queued.updated_at = turn.now
    queued.expires_at = turn.now + timedelta(minutes=turn.organisation.session_timeout_minutes)
    turn.db.flush()
    flow_named(queued.flow).start(turn, queued)
    return queued
