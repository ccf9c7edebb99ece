"""Consent: nobody is polled before saying yes to the current version of the text."""

from __future__ import annotations

from datetime import datetime

from storage import models as m


def has_current_consent(participant: m.Participant, organisation: m.Organisation) -> bool:
    return (
        participant.status == "active"
        and participant.consent_version is not None
        and participant.consent_version >= organisation.consent_version
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
