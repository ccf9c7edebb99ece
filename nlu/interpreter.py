"""The built-in interpreter: lexicons, number words and choice matching, no server needed.

It must answer thousands of replies per second during a launch, so everything is table
look-ups on folded words, cached per distinct reply. Its confidence says how sure the
rules are; the combined interpreter asks Rasa only below a threshold.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import lru_cache

from nlu.interpretation import ChoiceOption, Interpretation
from nlu.language import identify_language
from nlu.lexicon import LANGUAGES, Match, find_phrases, keyword_intent, wishes_to_stop
from nlu.normalise import tokens
from nlu.numbers import Number, digits_number, word_number

log = logging.getLogger(__name__)

# Long texts are pasted messages, not answers; the start carries the answer.
MAX_CHARS = 400

SURE = 0.95
LIKELY = 0.85
UNSURE = 0.6
FALLBACK = 0.1


class BuiltinInterpreter:
    """Rule-based interpreter; `languages` limits language identification."""

    def __init__(self, *, languages: Sequence[str] | None = None) -> None:
        self._allowed = frozenset(languages) if languages else frozenset(LANGUAGES)

    def parse(
        self,
        text: str,
        language_hint: str | None = None,
        choices: Sequence[ChoiceOption] | None = None,
    ) -> Interpretation:
        if not isinstance(text, str):
            text = "" if text is None else str(text)
        try:
            intent, confidence, language, number = _understand(
                text[:MAX_CHARS], language_hint, self._allowed
            )
            choice = match_choice(text[:MAX_CHARS], tuple(choices), intent) if choices else None
        except Exception:  # a reply must never crash the conversation engine
            log.exception("built-in NLU failed on %r", text[:80])
            return Interpretation(text, "nlu_fallback", 0.0)
        return Interpretation(text, intent, confidence, language, number, choice)


@lru_cache(maxsize=65536)
def _understand(
    text: str, hint: str | None, allowed: frozenset[str]
) -> tuple[str, float, str | None, Number | None]:
    words = tokens(text)
    if not words:
        return "nlu_fallback", 0.0, None, None
    language = identify_language(text, known=hint, allowed=allowed, statistical=False)
    keyword = keyword_intent(text)
    if keyword is not None:
        return keyword, 1.0, language, None
    intent, confidence = _decide(text, words, find_phrases(text), language)
    if language is None and len(words) >= 2 and confidence < SURE:
        # Only now is langdetect worth its cost: the rules are unsure and the words are open.
        language = identify_language(text, known=hint, allowed=allowed)
        intent, confidence = _decide(text, words, find_phrases(text), language)
    number = None
    if intent == "number":
        number = digits_number(text)
        if number is None:
            match = word_number(text, language)
            number = None if match is None else match.value
    return intent, confidence, language, number


def _decide(
    text: str, words: tuple[str, ...], matches: tuple[Match, ...], language: str | None
) -> tuple[str, float]:
    by_intent: dict[str, list[Match]] = {}
    for match in matches:
        by_intent.setdefault(match.intent, []).append(match)
    # A wish to stop beats everything else in the sentence ("No more messages please").
    if "stop" in by_intent:
        first = by_intent["stop"][0]
        return "stop", SURE if first.start == 0 or len(words) <= 3 else LIKELY
    if wishes_to_stop(words):
        return "stop", LIKELY
    if "help" in by_intent:
        return "help", SURE if len(words) <= 3 else LIKELY
    if "start" in by_intent and by_intent["start"][0].start == 0:
        return "start", LIKELY
    if digits_number(text) is not None:
        return "number", SURE
    answers = [m for m in matches if m.intent in ("affirm", "deny")]
    leading = [m for m in answers if m.start == 0]
    spelled = word_number(text, language)
    if spelled is not None and spelled.words >= len(words):
        return "number", SURE
    if leading:
        return _answer(leading, words)
    if spelled is not None and (spelled.language == language or language is None):
        return "number", LIKELY
    if answers:
        return _answer(answers, words, confidence=UNSURE)
    if spelled is not None:
        return "number", UNSURE
    return "nlu_fallback", FALLBACK


def _answer(
    answers: list[Match], words: tuple[str, ...], *, confidence: float | None = None
) -> tuple[str, float]:
    intent = answers[0].intent
    if confidence is None:
        confidence = SURE if answers[0].length >= len(words) or len(words) <= 4 else LIKELY
    if any(m.intent != intent for m in answers[1:]) and answers[0].length < len(words):
        confidence = min(confidence, LIKELY)
    return intent, confidence


def _choice_keys(option: ChoiceOption) -> tuple[str, ...]:
    keys = [" ".join(tokens(option.value))]
    keys.extend(" ".join(tokens(label)) for label in option.labels)
    return tuple(dict.fromkeys(k for k in keys if k))


@lru_cache(maxsize=4096)
def _choice_index(
    choices: tuple[ChoiceOption, ...],
) -> tuple[tuple[tuple[str, ...], ...], tuple[frozenset[str], ...]]:
    keys = tuple(_choice_keys(c) for c in choices)
    meanings = []
    for option in choices:
        found = set()
        for text in (option.value, *option.labels):
            leading = [m.intent for m in find_phrases(text) if m.start == 0]
            found.update(i for i in leading if i in ("affirm", "deny"))
        meanings.append(frozenset(found))
    return keys, tuple(meanings)


def _unique(values: list[str]) -> str | None:
    distinct = list(dict.fromkeys(values))
    return distinct[0] if len(distinct) == 1 else None


@lru_cache(maxsize=65536)
def match_choice(text: str, choices: tuple[ChoiceOption, ...], intent: str) -> str | None:
    """The value of the choice the reply names: by value, position, label, prefix or meaning."""
    words = tokens(text)
    if not words or not choices:
        return None
    reply = " ".join(words)
    keys, meanings = _choice_index(choices)
    exact = _unique([c.value for c, k in zip(choices, keys, strict=True) if reply in k])
    if exact is not None:
        return exact
    if len(words) <= 3:
        position = digits_number(text)
        if isinstance(position, int) and 1 <= position <= len(choices):
            return choices[position - 1].value
    padded = f" {reply} "
    contained = [
        (len(key), c.value)
        for c, ks in zip(choices, keys, strict=True)
        for key in ks
        if f" {key} " in padded
    ]
    if contained:
        longest = max(size for size, _ in contained)
        found = _unique([value for size, value in contained if size == longest])
        if found is not None:
            return found
    if len(reply) >= 3:
        pairs = zip(choices, keys, strict=True)
        prefixed = _unique([c.value for c, ks in pairs for k in ks if k.startswith(reply)])
        if prefixed is not None:
            return prefixed
    if intent in ("affirm", "deny"):
        return _unique([c.value for c, m in zip(choices, meanings, strict=True) if intent in m])
    return None
