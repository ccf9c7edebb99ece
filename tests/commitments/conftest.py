"""Helpers for commitments, outreach and scheduler tests: people in bulk, answers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest
import sqlalchemy as sa

from storage import models as m


def add_people(db, organisation_id: int, count: int, *, start: int = 0, **fields) -> list[int]:
    """`count` consented participants, inserted in bulk; returns their ids."""
    rows = [
        {
            "organisation_id": organisation_id,
            "phone": f"+2547{start + i:08d}",
            "pseudonym": f"p_test{organisation_id}_{start + i}",
            "status": "active",
            "consent_version": 1,
            "channel": "sms",
            "provider": "console",
            "created_at": datetime(2026, 1, 1),
            **fields,
        }
        for i in range(count)
    ]
    with db.session() as session:
        table = m.Participant.__table__
        ids = session.execute(sa.insert(table).values(rows).returning(table.c.id)).scalars()
        return sorted(ids)


@pytest.fixture
def people(db, organisation) -> Callable[..., list[int]]:
    counter = {"next": 0}

    def make(count: int, **fields) -> list[int]:
        ids = add_people(db, organisation.id, count, start=counter["next"], **fields)
        counter["next"] += count
        return ids

    return make


def _answer(db, session_id: int, value: str, at: datetime, key: str = "done") -> None:
    """Store an answer as the poll flow would, and finish the session."""
    with db.session() as session:
        row = session.get(m.ConversationSession, session_id)
        session.add(
            m.Answer(
                session_id=row.id,
                participant_id=row.participant_id,
                poll_version_id=row.poll_version_id,
                question_key=key,
                value=value,
                raw_text=value,
                created_at=at,
            )
        )
        row.status = "completed"
        row.completed_at = at


@pytest.fixture
def answer(db) -> Callable[..., None]:
    def store(session_id: int, value: str, at: datetime, key: str = "done") -> None:
        _answer(db, session_id, value, at, key)

    return store
