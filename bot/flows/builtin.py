"""Built-in flows that every organisation has: consent (and what follows it)."""

from __future__ import annotations

import sqlalchemy as sa

from bot import consent
from bot.flows.runtime import Turn, finish, open_session, register
from bot.keywords import fold
from bot.polls import latest_version
from storage import models as m

# Bare digits work in every language; words come from the NLU's lexicons.
YES_DIGITS, NO_DIGITS = {"1"}, {"2"}


class ConsentFlow:
    name = "consent"

    def start(self, turn: Turn, session: m.ConversationSession) -> None:
        turn.participant.status = "pending_consent"
        turn.say("consent.request")

    def receive(self, turn: Turn, session: m.ConversationSession, text: str) -> None:
        decision = self._decision(turn, text)
        if decision is None:
            session.retries += 1
            turn.say("consent.reask")
            return
        turn.db.add(
            consent.record_decision(
                turn.participant, turn.organisation, decision, channel=turn.channel, now=turn.now
            )
        )
        if decision == "declined":
            turn.say("consent.declined")
            finish(turn, session)
            return
        turn.say("consent.thanks")
        finish(turn, session)
        start_join_poll(turn)

    def _decision(self, turn: Turn, text: str) -> str | None:
        folded = fold(text)
        if folded in YES_DIGITS:
            return "granted"
        if folded in NO_DIGITS:
            return "declined"
        intent = turn.interpret(text).intent
        return {"affirm": "granted", "deny": "declined"}.get(intent)


def start_join_poll(turn: Turn) -> None:
    """The organisation's welcome poll, if it has one and the person has not taken it."""
    key = (turn.organisation.settings or {}).get("join_poll")
    if not key:
        return
    version = latest_version(turn.db, turn.organisation.id, key)
    if version is None:
        return
    taken = turn.db.scalar(
        sa.select(m.ConversationSession.id).where(
            m.ConversationSession.participant_id == turn.participant.id,
            m.ConversationSession.poll_version_id == version.id,
            m.ConversationSession.status.in_(("active", "queued", "completed")),
        )
    )
    if taken is None:
        open_session(turn, "poll", poll_version_id=version.id)


register(ConsentFlow())
