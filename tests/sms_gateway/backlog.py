"""A backlog of outreach for the outbox tests: consented participants, one message each,
due now, written in bulk (the workers under test use the real clock)."""

from __future__ import annotations

from datetime import datetime, time

import sqlalchemy as sa

from heard.config import AfricasTalkingSettings
from storage import models as m


def with_fake_africastalking(settings, fake_at):
    """The test settings with Africa's Talking pointed at the fake, for modules whose
    workers send through it."""
    return settings.with_overrides(
        africastalking=AfricasTalkingSettings(fake_at.username, fake_at.api_key, "HEARD"),
        at_api_base=fake_at.url,
        at_callback_token="test-callback-token",
    )


def seed(db, organisation, count: int, *, text: str = "Has the borehole been repaired?") -> None:
    """`count` consented participants, each with one outreach message due, in bulk."""
    numbers = [f"+2547{i:08d}" for i in range(count)]
    with db.session() as session:
        org = session.get(m.Organisation, organisation.id)
        org.quiet_start = org.quiet_end = time(0)  # no quiet hours: the workers use real time
        ids = session.scalars(
            sa.insert(m.Participant).returning(m.Participant.id),
            [
                {
                    "organisation_id": organisation.id,
                    "phone": number,
                    "pseudonym": f"p_{i:016x}",
                    "status": "active",
                    "consent_version": 1,
                    "provider": "africastalking",
                }
                for i, number in enumerate(numbers)
            ],
        ).all()
        session.execute(
            sa.insert(m.OutboundMessage),
            [
                {
                    "organisation_id": organisation.id,
                    "participant_id": participant_id,
                    "provider": "africastalking",
                    "to": number,
                    "text": text,
                    "status": "queued",
                    "is_reply": False,
                    "next_attempt_at": datetime(2020, 1, 1),
                }
                for participant_id, number in zip(ids, numbers, strict=True)
            ],
        )
