"""Retention: message texts are kept `Organisation.retention_days`, then blanked.

What is removed after the retention period (the scheduler runs this daily):
- the text of inbound messages (set to NULL) and of outbound messages (set to '') that
  were created before the cutoff; outbound rows still waiting to be sent are left alone;
- the raw reply text of answers (`Answer.raw_text` → NULL).
What is kept: the rows themselves (dates, statuses, costs for delivery statistics), and
the answers' interpreted values, which are the data the community asked to be counted.
Phone numbers are not touched here: they go with the participant (STOP keeps them so
that an opt-out holds; DELETE removes them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so

from storage import models as m

UNSENT = ("queued", "sending")


@dataclass(frozen=True)
class RetentionReport:
    organisations: int
    inbound_blanked: int
    outbound_blanked: int
    answers_blanked: int


def apply_retention(db: so.Session, now: datetime) -> RetentionReport:
    """Blank texts older than each organisation's retention period (naive UTC `now`)."""
    inbound = outbound = answers = 0
    organisations = db.scalars(sa.select(m.Organisation)).all()
    for organisation in organisations:
        cutoff = now - timedelta(days=organisation.retention_days)
        inbound += _count(
            db.execute(
                sa.update(m.InboundMessage)
                .where(
                    m.InboundMessage.organisation_id == organisation.id,
                    m.InboundMessage.created_at < cutoff,
                    m.InboundMessage.text.is_not(None),
                )
                .values(text=None)
                .execution_options(synchronize_session=False)
            )
        )
        outbound += _count(
            db.execute(
                sa.update(m.OutboundMessage)
                .where(
                    m.OutboundMessage.organisation_id == organisation.id,
                    m.OutboundMessage.created_at < cutoff,
                    m.OutboundMessage.text != "",
                    m.OutboundMessage.status.not_in(UNSENT),
                )
                .values(text="")
                .execution_options(synchronize_session=False)
            )
        )
        participants = sa.select(m.Participant.id).where(
            m.Participant.organisation_id == organisation.id
        )
        answers += _count(
            db.execute(
                sa.update(m.Answer)
                .where(
                    m.Answer.participant_id.in_(participants),
                    m.Answer.created_at < cutoff,
                    m.Answer.raw_text.is_not(None),
                )
                .values(raw_text=None)
                .execution_options(synchronize_session=False)
            )
        )
    db.flush()
    return RetentionReport(len(organisations), inbound, outbound, answers)


def _count(result: sa.Result) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
