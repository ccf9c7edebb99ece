"""Property: whatever 1–3 people send, the engine never crashes and nobody is ever in two
active sessions (checked in the database after every message)."""

from __future__ import annotations

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage import models as m

PHONES = ("+254712345678", "+254722000111", "+254733000222")
WORDS = (
    # keywords, in several languages and scripts
    "JOIN",
    "jiunge",
    "tham gia",
    "जुड़ें",
    "STOP",
    "acha",
    "बंद",
    "START",
    "HELP",
    "msaada",
    "LANGUAGE",
    "LUGHA 2",
    "language hi",
    "DELETE",
    "futa",
    "SKIP",
    "ruka",
    # answers
    "1",
    "2",
    "3",
    "4",
    "7",
    "12",
    "500",
    "50000",
    "-3",
    "1.5",
    "yes",
    "no",
    "ndiyo",
    "hapana",
    "oui",
    "non",
    "có",
    "không",
    "हाँ",
    "नहीं",
    "mia tano",
    "miti mia tano",
    "MITI 500",
    "TREES 50000 Ngiluni school",
    # a stop wish (asks to confirm), emoji, empty and long text
    "sitaki ujumbe tena",
    "please stop sending me messages",
    "😀",
    "🙏🏾👍",
    "",
    "   ",
    "x" * 1500,
    "Ngiluni",
)
MESSAGE = st.one_of(st.sampled_from(WORDS), st.text(max_size=60))
STEP = st.tuples(st.sampled_from(PHONES), MESSAGE)


def _seed_programme(db, organisation_id: int) -> None:
    with db.session() as session:
        if session.scalar(sa.select(m.Programme.id)) is None:
            session.add(
                m.Programme(
                    organisation_id=organisation_id,
                    key="trees",
                    keywords=["TREES", "MITI"],
                    unit={"en": "trees"},
                    max_value=10_000,
                )
            )


def _doubly_active(db) -> list[int]:
    with db.session() as session:
        return list(
            session.scalars(
                sa.select(m.ConversationSession.participant_id)
                .where(m.ConversationSession.status == "active")
                .group_by(m.ConversationSession.participant_id)
                .having(sa.func.count() > 1)
            )
        )


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(STEP, min_size=1, max_size=6))
def test_random_conversations_never_crash_or_double_up(phone, db, organisation, clock, steps):
    _seed_programme(db, organisation.id)
    for number, text in steps:
        clock.advance(minutes=7)
        replies = phone.send(number, text)
        assert all(isinstance(reply, str) and reply for reply in replies)
        assert _doubly_active(db) == []
