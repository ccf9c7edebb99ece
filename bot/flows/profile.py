"""Optional profile questions after consent: gender, age band, disability, village.

They exist for disaggregation only (who is heard, who is not), so every one can be
skipped (SKIP in any language), has a "prefer not to say", and gender can be described in
the person's own words. A skipped question stays NULL; "prefer_not" is a choice, and is
counted as such in results.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.flows.runtime import Turn, finish, register
from bot.keywords import fold, is_skip
from storage import models as m

PREFER_NOT = "prefer_not"  # fits Participant.age_band (16 characters)
MAX_REASKS = 2


@dataclass(frozen=True)
class ProfileQuestion:
    key: str  # also the Participant column
    message: str
    options: tuple[str, ...] = ()  # stored value of reply 1, 2, ...; empty for free text


GENDER = ProfileQuestion("gender", "profile.gender", ("woman", "man", "another", PREFER_NOT))
AGE_BAND = ProfileQuestion(
    "age_band",
    "profile.age_band",
    ("under_18", "18-24", "25-34", "35-49", "50-64", "65+", PREFER_NOT),
)
DISABILITY = ProfileQuestion("disability", "profile.disability", ("yes", "no", PREFER_NOT))
VILLAGE = ProfileQuestion("village", "profile.village")
QUESTIONS = {q.key: q for q in (GENDER, AGE_BAND, DISABILITY, VILLAGE)}
DEFAULT_QUESTIONS = tuple(QUESTIONS)

# The step that follows "3 Another": a self-description, stored as typed.
DESCRIBE_GENDER = "gender_describe"
AGE_BANDS = ((18, "under_18"), (25, "18-24"), (35, "25-34"), (50, "35-49"), (65, "50-64"))


class ProfileFlow:
    name = "profile"

    def start(self, turn: Turn, session: m.ConversationSession) -> None:
        if session.step is None:
            turn.say("profile.intro")
            self._next(turn, session)
            return
        self._ask(turn, session.step)

    def receive(self, turn: Turn, session: m.ConversationSession, text: str) -> None:
        step = session.step or ""
        if is_skip(text):
            # Skipping the description still leaves the answer they gave: "another".
            self._done(turn, session, step, "another" if step == DESCRIBE_GENDER else None)
            return
        if step == DESCRIBE_GENDER:
            self._done(turn, session, "gender", text.strip()[:64])
            return
        question = QUESTIONS[step]
        value = self._value(turn, question, text)
        if value == "another":
            session.step = DESCRIBE_GENDER
            turn.say("profile.gender_describe")
            return
        if value is not None:
            self._done(turn, session, step, value)
            return
        if session.retries < MAX_REASKS:
            session.retries += 1
            turn.say_text(
                " ".join(
                    (
                        turn.texts.get("hint.prefix", turn.language),
                        turn.texts.get("profile.hint", turn.language, count=len(question.options)),
                    )
                )
            )
            self._ask(turn, step)
            return
        self._done(turn, session, step, None)

    def _value(self, turn: Turn, question: ProfileQuestion, text: str) -> str | None:
        if not question.options:
            cleaned = " ".join(text.split())[:200]
            return cleaned or None
        folded = fold(text)
        if folded.isdigit():
            number = int(folded)
            if 1 <= number <= len(question.options):
                return question.options[number - 1]
            if question is AGE_BAND:
                return _age_band(number)
            return None
        if question is GENDER:
            # Words, not a number: a self-description ("non-binary", "mwanamke").
            return text.strip()[:64] or None
        interpretation = turn.interpret(text)
        if question is DISABILITY:
            return {"affirm": "yes", "deny": "no"}.get(interpretation.intent)
        if question is AGE_BAND and isinstance(interpretation.number, int):
            return _age_band(interpretation.number) if interpretation.number > 7 else None
        return None

    def _done(
        self, turn: Turn, session: m.ConversationSession, step: str, value: str | None
    ) -> None:
        key = "gender" if step == DESCRIBE_GENDER else step
        if value is not None:
            setattr(turn.participant, key, value)
        state = dict(session.state)
        field = "answered" if value is not None else "skipped"
        state[field] = [*state.get(field, []), key]
        session.state = state
        self._next(turn, session)

    def _next(self, turn: Turn, session: m.ConversationSession) -> None:
        from bot.flows.builtin import continue_onboarding, profile_questions

        done = set(session.state.get("answered", [])) | set(session.state.get("skipped", []))
        for key in profile_questions(turn.organisation):
            if key not in done:
                session.step = key
                session.retries = 0
                session.updated_at = turn.now
                self._ask(turn, key)
                return
        session.step = None
        finish(turn, session, resume=False)
        continue_onboarding(turn)

    def _ask(self, turn: Turn, step: str) -> None:
        if step == DESCRIBE_GENDER:
            turn.say("profile.gender_describe")
            return
        turn.say(QUESTIONS[step].message)


def _age_band(age: int) -> str | None:
    if age > 120:
        return None
    for below, band in AGE_BANDS:
        if age < below:
            return band
    return "65+"


register(ProfileFlow())
