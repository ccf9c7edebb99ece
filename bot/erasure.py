"""DELETE: erase a participant's personal data, after asking once.

What erasure means (Copenhagen Framework: people control their data, aggregates survive):
- the phone number and every profile field are removed; the row stays, under its random
  pseudonym, so totals already published do not change;
- the raw texts they sent and we sent them are blanked (the messages stay as rows for the
  delivery statistics, with no content and no number);
- answers are kept as values for the aggregates, pointing at the pseudonymous row, with
  their raw text removed;
- consent is recorded as `withdrawn`, sessions and unsent messages are cancelled.

A later message from the same number meets no participant and starts afresh as a
newcomer: nothing links it to the erased row.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from bot.consent import cancel_queued_outbound
from bot.flows.builtin import MAX_REASKS, carry_on, decision_of
from bot.flows.runtime import Turn, finish, register
from storage import models as m
from storage import queries

PROFILE_FIELDS = ("gender", "age_band", "disability", "village", "timezone")


def erase_participant(
    session: so.Session, participant: m.Participant, now: datetime, *, channel: str = "sms"
) -> None:
    """Remove the participant's personal data in the caller's transaction."""
    queries.cancel_sessions(session, participant.id, now)
    cancel_queued_outbound(session, participant.id, now, reason="participant erased")
    session.execute(
        sa.update(m.InboundMessage)
        .where(m.InboundMessage.participant_id == participant.id)
        .values(text=None, sender=None)
    )
    session.execute(
        sa.update(m.OutboundMessage)
        .where(m.OutboundMessage.participant_id == participant.id)
        .values(text="", to=None)
    )
    session.execute(
        sa.update(m.Answer).where(m.Answer.participant_id == participant.id).values(raw_text=None)
    )
    session.add(
        m.ConsentRecord(
            participant_id=participant.id,
            version=participant.consent_version or 0,
            decision="withdrawn",
            language=participant.language,
            channel=channel,
            recorded_at=now,
        )
    )
    participant.phone = None
    for field in PROFILE_FIELDS:
        setattr(participant, field, None)
    participant.status = "erased"
    participant.erased_at = now
    queries.audit(
        session,
        organisation_id=participant.organisation_id,
        user_id=None,
        action="participant.erased",
        target=participant.pseudonym,
    )
    session.flush()


class ErasureFlow:
    name = "erasure"

    def start(self, turn: Turn, session: m.ConversationSession) -> None:
        turn.say("delete.ask_confirm")

    def receive(self, turn: Turn, session: m.ConversationSession, text: str) -> None:
        decision = decision_of(turn, text)
        if decision is None and session.retries < MAX_REASKS:
            session.retries += 1
            turn.say("delete.ask_confirm")
            return
        if decision == "granted":
            # The goodbye is said first: the engine still knows the number it came from.
            turn.say("delete.done")
            finish(turn, session, resume=False)
            erase_participant(turn.db, turn.participant, turn.now, channel=turn.channel)
            return
        # No, or still unclear after asking: erasing on a guess cannot be undone.
        turn.say("delete.kept")
        finish(turn, session, resume=False)
        carry_on(turn)


register(ErasureFlow())
