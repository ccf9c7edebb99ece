"""Consent and opt-out: nobody is polled before saying yes to the current version of the
text, and an opted-out number is never messaged again until it sends START."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from storage import models as m
from storage import queries

# Where an opt-out came from, kept in the audit trail: a provider's block (Twilio 21610,
# "the recipient sent STOP to the carrier") is not the same evidence as our own keyword.
OPT_OUT_SOURCES = ("keyword", "provider", "erasure", "coordinator")


def has_current_consent(participant: m.Participant, organisation: m.Organisation) -> bool:
    return (
        participant.status == "active"
        and participant.consent_version is not None
        and participant.consent_version >= organisation.consent_version
    )


def needs_reconsent(participant: m.Participant, organisation: m.Organisation) -> bool:
    """Agreed once, but to an older text: asked again at the next contact."""
    return (
        participant.status == "active"
        and participant.consent_version is not None
        and participant.consent_version < organisation.consent_version
    )


def record_decision(
    participant: m.Participant,
    organisation: m.Organisation,
    decision: str,
    *,
    channel: str,
    now: datetime,
) -> m.ConsentRecord:
    """Append the decision (records are never edited) and update the participant."""
    if decision == "granted":
        participant.status = "active"
        participant.consent_version = organisation.consent_version
        participant.consented_at = now
    elif decision == "declined":
        participant.status = "declined"
    return m.ConsentRecord(
        participant_id=participant.id,
        version=organisation.consent_version,
        decision=decision,
        language=participant.language,
        channel=channel,
        recorded_at=now,
    )


def opt_out(
    session: so.Session, participant: m.Participant, now: datetime, source: str = "keyword"
) -> bool:
    """Stop every message to this participant; True when they were not opted out yet.

    Sessions (active and queued) are cancelled and outbox rows not yet claimed by a sender
    are cancelled too, so a poll launched a minute ago does not reach someone who just
    said STOP. The outbox also checks the status at send time; this only saves the work.
    """
    already = participant.status == "opted_out"
    queries.cancel_sessions(session, participant.id, now)
    cancel_queued_outbound(session, participant.id, now, reason=f"opted out ({source})")
    if already:
        return False
    participant.status = "opted_out"
    participant.opted_out_at = now
    queries.audit(
        session,
        organisation_id=participant.organisation_id,
        user_id=None,
        action="participant.opted_out",
        target=participant.pseudonym,
        detail={"source": source},
    )
    return True


def cancel_queued_outbound(
    session: so.Session, participant_id: int, now: datetime, *, reason: str
) -> int:
    rows = session.scalars(
        sa.select(m.OutboundMessage).where(
            m.OutboundMessage.participant_id == participant_id,
            m.OutboundMessage.status == "queued",
        )
    ).all()
    for row in rows:
        queries.record_status(session, row, "cancelled", detail=reason, now=now)
        row.updated_at = now
    session.flush()
    return len(rows)
