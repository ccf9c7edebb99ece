"""Conversation helpers: onboarding, and readers for the state a conversation left."""

from __future__ import annotations

import sqlalchemy as sa

from sms_gateway.console import ConsoleGateway
from storage import models as m

PHONE = "+254712345678"
OTHER = "+254722000111"
PROFILE_SKIPS = 4  # gender, age band, disability, village: skipped by `onboard`

# The demo poll with French, Vietnamese and Hindi added: poll content carries its own
# translations, so conversations in those languages can be asserted before the system
# message catalogs exist.
WATER_POLL_HI_VI = {
    "key": "water-point",
    "title": {"en": "Water point check"},
    "languages": ["en", "sw", "fr", "vi", "hi"],
    "questions": [
        {
            "key": "works",
            "type": "choice",
            "prompt": {
                "en": "Is the water point working?",
                "sw": "Je, kisima kinafanya kazi?",
                "fr": "Le point d'eau fonctionne-t-il ?",
                "vi": "Giếng nước có hoạt động không?",
                "hi": "क्या जल स्रोत काम कर रहा है?",
            },
            "choices": [
                {
                    "value": "yes",
                    "label": {"en": "Yes", "sw": "Ndiyo", "fr": "Oui", "vi": "Có", "hi": "हाँ"},
                },
                {
                    "value": "no",
                    "label": {
                        "en": "No",
                        "sw": "Hapana",
                        "fr": "Non",
                        "vi": "Không",
                        "hi": "नहीं",
                    },
                },
            ],
        },
        {
            "key": "queue_minutes",
            "type": "number",
            "min": 0,
            "max": 600,
            "prompt": {
                "en": "How many minutes did you queue for water today?",
                "sw": "Ulipanga foleni kwa dakika ngapi leo kupata maji?",
                "fr": "Combien de minutes avez-vous attendu pour l'eau aujourd'hui ?",
                "vi": "Hôm nay bạn xếp hàng lấy nước bao nhiêu phút?",
                "hi": "आज पानी के लिए आपने कितने मिनट कतार में इंतज़ार किया?",
            },
        },
    ],
    "end_message": {
        "en": "Thank you!",
        "sw": "Asante!",
        "fr": "Merci !",
        "vi": "Cảm ơn!",
        "hi": "धन्यवाद!",
    },
}


def update_organisation(db, organisation_id: int, **values) -> None:
    with db.session() as session:
        org = session.get(m.Organisation, organisation_id)
        for key, value in values.items():
            setattr(org, key, value)


def onboard(phone: ConsoleGateway, number: str = PHONE, *, join="JOIN", yes="yes") -> list[str]:
    """Join, agree and skip the profile: the replies to the last SKIP (the join poll)."""
    phone.send(number, join)
    phone.send(number, yes)
    replies: list[str] = []
    for _ in range(PROFILE_SKIPS):
        replies = phone.send(number, "SKIP")
    return replies


def participant(db, number: str = PHONE) -> m.Participant | None:
    with db.session() as session:
        return session.scalar(sa.select(m.Participant).where(m.Participant.phone == number))


def answers(db) -> dict[str, object]:
    with db.session() as session:
        rows = session.execute(sa.select(m.Answer.question_key, m.Answer.value)).all()
    return dict(rows)


def sessions(db, number: str = PHONE) -> list[tuple[str, str]]:
    """(flow, status) of the participant's sessions, oldest first."""
    with db.session() as session:
        rows = session.execute(
            sa.select(m.ConversationSession.flow, m.ConversationSession.status)
            .join(m.Participant)
            .where(m.Participant.phone == number)
            .order_by(m.ConversationSession.id)
        ).all()
    return [(flow, status) for flow, status in rows]


def scalar(db, query) -> object:
    with db.session() as session:
        return session.scalar(query)


def text(key: str, language: str = "en", **params: object) -> str:
    """A system message as the participant receives it (catalog, else English)."""
    from bot.texts import Texts

    return Texts().get(key, language, org="Ngiluni Voices", **params)
