"""Seed data for the poll, launch, results and report tests: consenting participants in a
group, and answered sessions, written through the models as the engine would."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from bot.polls import latest_version
from storage import models as m

NOW = datetime(2026, 1, 5, 9, 0, 0)


def seed_participants(
    db, organisation_id: int, count: int, *, group: str = "Ngiluni Women", start: int = 0, **profile
) -> list[int]:
    with db.session() as session:
        org = session.get(m.Organisation, organisation_id)
        found = session.scalar(
            sa.select(m.Group).where(m.Group.organisation_id == org.id, m.Group.name == group)
        )
        if found is None:
            found = m.Group(organisation_id=org.id, name=group, village="Ngiluni")
            session.add(found)
            session.flush()
        ids = []
        for index in range(start, start + count):
            person = m.Participant(
                organisation_id=org.id,
                phone=f"+2547{organisation_id:02d}{index:06d}",
                status="active",
                consent_version=org.consent_version,
                consented_at=NOW - timedelta(days=3),
                language=profile.get("language", "en"),
                gender=profile.get("gender"),
                age_band=profile.get("age_band"),
                disability=profile.get("disability"),
                village=profile.get("village", "Ngiluni"),
                provider="twilio",
            )
            person.groups.append(found)
            session.add(person)
            session.flush()
            ids.append(person.id)
        return ids


def seed_answers(
    db,
    organisation_id: int,
    poll_key: str,
    participant_ids: list[int],
    answers: dict[str, object],
    *,
    when: datetime = NOW,
    language: str = "en",
) -> None:
    """One completed session per participant with these answers."""
    with db.session() as session:
        version = latest_version(session, organisation_id, poll_key)
        for pid in participant_ids:
            # A launch already opened this person's session: answer in it, as the engine does.
            row = session.scalar(
                sa.select(m.ConversationSession).where(
                    m.ConversationSession.participant_id == pid,
                    m.ConversationSession.poll_version_id == version.id,
                )
            )
            if row is not None:
                row.status, row.completed_at = "completed", when
            else:
                row = m.ConversationSession(
                    participant_id=pid,
                    flow="poll",
                    poll_version_id=version.id,
                    status="completed",
                    channel="sms",
                    created_at=when,
                )
                session.add(row)
            session.flush()
            for key, value in answers.items():
                session.add(
                    m.Answer(
                        session_id=row.id,
                        participant_id=pid,
                        poll_version_id=version.id,
                        question_key=key,
                        value=value,
                        raw_text=str(value),
                        language=language,
                        created_at=when,
                    )
                )


def poll_id(db, organisation_id: int, key: str = "water-point") -> int:
    with db.session() as session:
        return session.scalar(
            sa.select(m.Poll.id).where(m.Poll.organisation_id == organisation_id, m.Poll.key == key)
        )
