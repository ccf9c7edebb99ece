"""Running a poll: ask, interpret, store, skip by `when`, re-ask at most twice.

The questions come from the database as a `PollDefinition`; nothing here knows whether it
is spoken over SMS, WhatsApp or USSD.
"""

from __future__ import annotations

from bot.flows import answers as answer_rules
from bot.flows.poll_format import PollDefinition, QuestionDef, localised, should_ask
from bot.flows.runtime import Turn, finish, register
from bot.polls import definition_of
from nlu.interpretation import ChoiceOption
from storage import models as m
from storage import queries

MAX_REASKS = 2

# answers.py's reason codes → the system message that explains what we expect.
HINT_MESSAGES = {
    "choose_number": "hint.choose_number",
    "ambiguous": "hint.choose_number",
    "not_a_number": "hint.not_a_number",
    "out_of_range": "hint.out_of_range",
    "empty": "hint.text",
    "too_long": "hint.text",
}


class PollFlow:
    name = "poll"

    def start(self, turn: Turn, session: m.ConversationSession) -> None:
        definition = definition_of(turn.db, session.poll_version_id)
        if session.step:  # resumed after an interruption: ask where we left off
            self._ask(turn, definition, definition.question(session.step))
            return
        self._advance(turn, session, definition)

    def receive(self, turn: Turn, session: m.ConversationSession, text: str) -> None:
        definition = definition_of(turn.db, session.poll_version_id)
        question = definition.question(session.step)
        interpretation = turn.interpret(text, _choice_options(question))
        result = answer_rules.interpret_answer(
            question,
            text,
            language=turn.language,
            languages=definition.languages,
            interpretation=interpretation,
        )
        if result.ok:
            self._store(turn, session, question, result.value, text, "answered")
            self._advance(turn, session, definition)
            return
        if session.retries < MAX_REASKS:
            session.retries += 1
            turn.say_text(
                " ".join(
                    (
                        turn.texts.get("hint.prefix", turn.language),
                        self._hint(turn, question, result.hint),
                    )
                )
            )
            self._ask(turn, definition, question)
            return
        # Asked three times: skip and mark it, rather than trapping the person in a loop.
        self._store(turn, session, question, None, text, "skipped")
        turn.say("question.skipped")
        self._advance(turn, session, definition)

    def _advance(
        self, turn: Turn, session: m.ConversationSession, definition: PollDefinition
    ) -> None:
        answers = dict(session.state.get("answers", {}))
        asked = set(answers) | set(session.state.get("skipped", []))
        for question in definition.questions:
            if question.key in asked:
                continue
            if not should_ask(question, answers):
                continue
            session.step = question.key
            session.retries = 0
            session.updated_at = turn.now
            self._ask(turn, definition, question)
            return
        end = definition.end_message
        if end:
            turn.say_text(localised(end, turn.language, definition.languages))
        else:
            turn.say("poll.thanks")
        session.step = None
        finish(turn, session)

    def _ask(self, turn: Turn, definition: PollDefinition, question: QuestionDef) -> None:
        turn.say_text(answer_rules.prompt_text(question, turn.language, definition.languages))

    def _hint(self, turn: Turn, question: QuestionDef, hint: str | None) -> str:
        if question.type == "multi_choice":
            return turn.texts.get("hint.choose_numbers", turn.language, count=len(question.choices))
        if question.type == "yes_no":
            return turn.texts.get("hint.yes_no", turn.language)
        if question.type == "rating":
            return turn.texts.get("hint.rating", turn.language)
        if question.type == "text":
            return turn.texts.get("hint.text", turn.language)
        key = HINT_MESSAGES.get(hint or "", "hint.choose_number")
        if question.type == "number" and key == "hint.choose_number":
            key = "hint.not_a_number"
        return turn.texts.get(
            key,
            turn.language,
            count=len(question.choices),
            min=_plain(question.min),
            max=_plain(question.max),
        )

    def _store(
        self,
        turn: Turn,
        session: m.ConversationSession,
        question: QuestionDef,
        value: object,
        raw_text: str,
        status: str,
    ) -> None:
        # One statement: the unique (session, question) keeps the first answer, as a
        # SELECT-then-INSERT did in two round trips.
        turn.db.execute(
            queries.keep_first_answer(turn.db),
            {
                "session_id": session.id,
                "participant_id": turn.participant.id,
                "poll_version_id": session.poll_version_id,
                "question_key": question.key,
                "value": value,
                "status": status,
                "raw_text": raw_text[:2000],
                "language": turn.language,
                "created_at": turn.now,
            },
        )
        state = dict(session.state)
        if status == "answered":
            state["answers"] = {**state.get("answers", {}), question.key: value}
        else:
            state["skipped"] = [*state.get("skipped", []), question.key]
        session.state = state


def _choice_options(question: QuestionDef) -> list[ChoiceOption] | None:
    if not question.choices:
        return None
    return [ChoiceOption(c.value, tuple(c.label.values())) for c in question.choices]


def _plain(number: float | None) -> str:
    if number is None:
        return "?"
    return str(int(number)) if float(number).is_integer() else str(number)


register(PollFlow())
