"""Polls between their definition (poll format) and the database.

Versions are immutable once launched: saving a changed definition of a launched poll makes
a new version, so every answer keeps the wording it answered.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from bot.flows.poll_format import ChoiceDef, PollDefinition, QuestionDef
from storage import models as m
from storage.cache import cached


def save_poll(
    session: so.Session, organisation_id: int, definition: PollDefinition
) -> m.PollVersion:
    """Create the poll or a new version of it; reuse the latest version while unlaunched."""
    poll = session.scalar(
        sa.select(m.Poll).where(
            m.Poll.organisation_id == organisation_id, m.Poll.key == definition.key
        )
    )
    if poll is None:
        poll = m.Poll(organisation_id=organisation_id, key=definition.key, title=definition.title)
        session.add(poll)
        session.flush()
    poll.title = dict(definition.title) or poll.title
    latest = session.scalar(
        sa.select(m.PollVersion)
        .where(m.PollVersion.poll_id == poll.id)
        .order_by(m.PollVersion.version.desc())
        .limit(1)
    )
    if latest is not None and latest.launched_at is None:
        if definition_of(session, latest.id) == definition:
            return latest
        session.delete(latest)
        session.flush()
        number = latest.version
    else:
        number = (latest.version + 1) if latest else 1
    version = m.PollVersion(
        poll_id=poll.id,
        version=number,
        languages=list(definition.languages),
        end_message=dict(definition.end_message),
        questions=[_question_row(position, q) for position, q in enumerate(definition.questions)],
    )
    session.add(version)
    session.flush()
    return version


def _question_row(position: int, question: QuestionDef) -> m.Question:
    return m.Question(
        position=position,
        key=question.key,
        type=question.type,
        prompt=dict(question.prompt),
        prompt_latin=dict(question.prompt_latin),
        min_value=question.min,
        max_value=question.max,
        when=question.when,
        required=question.required,
        sdg=list(question.sdg),
        choices=[
            m.Choice(position=i, value=c.value, label=dict(c.label))
            for i, c in enumerate(question.choices)
        ],
    )


def latest_version(session: so.Session, organisation_id: int, key: str) -> m.PollVersion | None:
    return session.scalar(
        sa.select(m.PollVersion)
        .join(m.Poll)
        .where(m.Poll.organisation_id == organisation_id, m.Poll.key == key)
        .order_by(m.PollVersion.version.desc())
        .limit(1)
    )


def definition_of(session: so.Session, poll_version_id: int) -> PollDefinition:
    """The definition of a poll version, compiled once per process and version.

    The flow runtime asks for one on every reply, and compiling reads the version, its
    poll, its questions and each question's choices. Rows are never edited in place: a
    launched version is immutable, and `save_poll` replaces an unlaunched one with a new
    row. The new row can reuse the id on SQLite (rowids), never the creation time, so
    (id, created_at) names one content; reading it is one primary-key lookup, which the
    session's identity map often answers without the database.
    """
    key = (poll_version_id, _created_at(session, poll_version_id))
    found = _DEFINITIONS.get(key)
    if found is None:
        found = _build(session, poll_version_id)
        if len(_DEFINITIONS) >= MAX_CACHED_DEFINITIONS:
            _DEFINITIONS.clear()  # rare: a process serving thousands of versions at once
        _DEFINITIONS[key] = found
    return found


def _created_at(session: so.Session, poll_version_id: int) -> datetime:
    """The version's creation time; for a launched version (immutable, and the kind a
    launch's thousands of replies ask about) kept in the configuration cache."""

    def load() -> datetime | None:
        version = session.get(m.PollVersion, poll_version_id)
        if version is None:
            raise LookupError(f"poll version {poll_version_id} does not exist")
        return version.created_at if version.launched_at is not None else None

    launched = cached(session, ("launched_poll_version", poll_version_id), load)
    if launched is not None:
        return launched
    version = session.get(m.PollVersion, poll_version_id)  # from the identity map, or one read
    if version is None:
        raise LookupError(f"poll version {poll_version_id} does not exist")
    return version.created_at


# Immutable values keyed by immutable content: shared by every Database in the process.
_DEFINITIONS: dict[tuple[int, datetime], PollDefinition] = {}
MAX_CACHED_DEFINITIONS = 2048


def _build(session: so.Session, poll_version_id: int) -> PollDefinition:
    version = session.get(m.PollVersion, poll_version_id)
    if version is None:
        raise LookupError(f"poll version {poll_version_id} does not exist")
    return PollDefinition(
        key=version.poll.key,
        languages=tuple(version.languages),
        title=dict(version.poll.title),
        end_message=dict(version.end_message),
        questions=tuple(
            QuestionDef(
                key=q.key,
                type=q.type,
                prompt=dict(q.prompt),
                choices=tuple(ChoiceDef(c.value, dict(c.label)) for c in q.choices),
                min=q.min_value,
                max=q.max_value,
                when=q.when,
                required=q.required,
                sdg=tuple(q.sdg),
                prompt_latin=dict(q.prompt_latin),
            )
            for q in version.questions
        ),
    )
