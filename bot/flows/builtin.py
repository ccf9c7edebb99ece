"""Built-in flows that every organisation has: consent (and the onboarding that follows
it) and the language switch."""

from __future__ import annotations

import sqlalchemy as sa

from bot import consent
from bot.flows.runtime import Turn, finish, open_session, register, repeat_current, resume_next
from bot.keywords import fold
from bot.polls import latest_version
from storage import models as m
from storage import queries

# Bare digits work in every language; words come from the NLU's lexicons.
YES_DIGITS, NO_DIGITS = {"1"}, {"2"}
MAX_REASKS = 2

# Each language in its own name: someone who cannot read the current language must still
# find theirs in the list.
LANGUAGE_NAMES: dict[str, str] = {
    "en": "English",
    "sw": "Kiswahili",
    "fr": "Français",
    "vi": "Tiếng Việt",
    "hi": "हिन्दी",
    "bn": "বাংলা",
    "ne": "नेपाली",
    "ny": "Chichewa",
    "ha": "Hausa",
    "ar": "العربية",
}
# What people type instead of a number ("LANGUAGE swahili", "LANGUE francais").
LANGUAGE_ALIASES: dict[str, str] = {
    "swahili": "sw",
    "french": "fr",
    "francais": "fr",
    "vietnamese": "vi",
    "tieng viet": "vi",
    "hindi": "hi",
    "bengali": "bn",
    "bangla": "bn",
    "nepali": "ne",
    "nyanja": "ny",
    "arabic": "ar",
    "arabiya": "ar",
}


def decision_of(turn: Turn, text: str) -> str | None:
    """ "granted", "declined" or None for a yes/no reply in any supported language."""
    folded = fold(text)
    if folded in YES_DIGITS:
        return "granted"
    if folded in NO_DIGITS:
        return "declined"
    intent = turn.interpret(text).intent
    return {"affirm": "granted", "deny": "declined"}.get(intent)


class ConsentFlow:
    name = "consent"

    def start(self, turn: Turn, session: m.ConversationSession) -> None:
        # Also for a re-consent: until they agree to the new text, nothing is sent to them.
        turn.participant.status = "pending_consent"
        turn.say("consent.request")

    def receive(self, turn: Turn, session: m.ConversationSession, text: str) -> None:
        decision = decision_of(turn, text)
        if decision is None:
            session.retries += 1
            turn.say("consent.reask")
            return
        turn.db.add(
            consent.record_decision(
                turn.participant, turn.organisation, decision, channel=turn.channel, now=turn.now
            )
        )
        finish(turn, session, resume=False)
        if decision == "declined":
            # Polls queued while we waited (a re-consent) are dropped: declined is never polled.
            queries.cancel_sessions(turn.db, turn.participant.id, turn.now)
            turn.say("consent.declined")
            return
        turn.say("consent.thanks")
        continue_onboarding(turn)


def continue_onboarding(turn: Turn) -> None:
    """After consent (and after the profile): profile questions once, then the join poll,
    then whatever polls were waiting."""
    if profile_pending(turn):
        open_session(turn, "profile")
        return
    start_join_poll(turn)
    resume_next(turn)


def profile_questions(organisation: m.Organisation) -> list[str]:
    from bot.flows.profile import DEFAULT_QUESTIONS

    configured = (organisation.settings or {}).get("profile_questions")
    if configured is None:
        return list(DEFAULT_QUESTIONS)
    return [key for key in configured if key in DEFAULT_QUESTIONS]


def profile_pending(turn: Turn) -> bool:
    if not profile_questions(turn.organisation):
        return False
    # Asked once: a completed or expired profile is not asked again after a re-consent.
    asked = turn.db.scalar(
        sa.select(m.ConversationSession.id)
        .where(
            m.ConversationSession.participant_id == turn.participant.id,
            m.ConversationSession.flow == "profile",
            m.ConversationSession.status.in_(("active", "queued", "completed", "expired")),
        )
        .limit(1)
    )
    return asked is None


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


# --- language -----------------------------------------------------------------------


def organisation_languages(organisation: m.Organisation) -> list[str]:
    return list(organisation.languages or [organisation.default_language or "en"])


def pick_language(organisation: m.Organisation, text: str) -> str | None:
    """The organisation language a reply names: by number, code or name."""
    languages = organisation_languages(organisation)
    folded = fold(text)
    if folded.isdigit():
        index = int(folded) - 1
        return languages[index] if 0 <= index < len(languages) else None
    if folded in languages:
        return folded
    for code in languages:
        if folded == fold(LANGUAGE_NAMES.get(code, code)):
            return code
    code = LANGUAGE_ALIASES.get(folded)
    return code if code in languages else None


def language_options(organisation: m.Organisation) -> str:
    return " ".join(
        f"{number} {LANGUAGE_NAMES.get(code, code)}"
        for number, code in enumerate(organisation_languages(organisation), start=1)
    )


def set_language(turn: Turn, code: str) -> None:
    turn.participant.language = code
    turn.say("language.changed")


def carry_on(turn: Turn) -> None:
    """After a keyword aside: repeat where they were, or (newcomers) ask for consent."""
    if repeat_current(turn):
        return
    if resume_next(turn) is not None:
        return
    if turn.participant.status in ("new", "pending_consent"):
        open_session(turn, "consent")


class LanguageFlow:
    name = "language"

    def start(self, turn: Turn, session: m.ConversationSession) -> None:
        turn.say("language.ask", options=language_options(turn.organisation))

    def receive(self, turn: Turn, session: m.ConversationSession, text: str) -> None:
        code = pick_language(turn.organisation, text)
        if code is None and session.retries < MAX_REASKS:
            session.retries += 1
            self.start(turn, session)
            return
        if code is None:
            turn.say("language.unchanged")
        else:
            set_language(turn, code)
        finish(turn, session, resume=False)
        carry_on(turn)


register(ConsentFlow())
register(LanguageFlow())
