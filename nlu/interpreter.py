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
from nlu.language import identify_language, identify_words
from nlu.lexicon import LANGUAGES, Match, find_phrases, keyword_of, phrases_in, wishes_to_stop
from nlu.normalise import split_light_words, split_words, tokens
from nlu.numbers import HAS_DIGIT, Number, NumberMatch, digits_number, number_in_words

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
    """Fold once, then look everything up on those words.

    This runs for every reply not seen before, so the reply is folded here once and the
    uncached helpers take the words; their cached public twins would fold it again.
    """
    bare = text.strip()
    if bare.isdigit() and bare.isascii():
        # "3", "500": no lexicon entry has a digit (a test checks), so nothing but the
        # number can match, and digits say nothing against the participant's language.
        return "number", SURE, hint if hint in allowed else None, int(bare)
    words = split_words(text)
    if not words:
        return "nlu_fallback", 0.0, None, None
    light = words if text.isascii() else split_light_words(text)
    language = identify_words(text, words, hint, allowed, False)
    keyword = keyword_of(text, words, light)
    if keyword is not None:
        return keyword, 1.0, language, None
    matches = phrases_in(words, light)
    has_digit = HAS_DIGIT.search(text) is not None
    intent, confidence, spelled = _decide(text, words, matches, language, has_digit)
    if language is None and len(words) >= 2 and confidence < SURE:
        # Only now is langdetect worth its cost: the rules are unsure and the words are open.
        language = identify_language(text, known=hint, allowed=allowed)
        intent, confidence, spelled = _decide(text, words, matches, language, has_digit)
    number = None
    if intent == "number":
        number = digits_number(text) if has_digit else None
        if number is None and spelled is not None:
            number = spelled.value
    return intent, confidence, language, number


def _decide(
    text: str,
    words: tuple[str, ...],
    matches: tuple[Match, ...],
    language: str | None,
    has_digit: bool,
) -> tuple[str, float, NumberMatch | None]:
    """Intent and confidence, and the spelled number (None when the words hold none)."""
    first: dict[str, Match] = {}
    for match in matches:
        first.setdefault(match.intent, match)
    spelled = number_in_words(words, language)
    # A wish to stop beats everything else in the sentence ("No more messages please").
    if "stop" in first:
        return "stop", SURE if first["stop"].start == 0 or len(words) <= 3 else LIKELY, spelled
    if wishes_to_stop(words):
        return "stop", LIKELY, spelled
    if "help" in first:
        return "help", SURE if len(words) <= 3 else LIKELY, spelled
    if "start" in first and first["start"].start == 0:
        return "start", LIKELY, spelled
    if has_digit and digits_number(text) is not None:
        return "number", SURE, spelled
    if spelled is not None and spelled.words >= len(words):
        return "number", SURE, spelled
    answers = [m for m in matches if m.intent == "affirm" or m.intent == "deny"]
    leading = [m for m in answers if m.start == 0]
    if leading:
        return (*_answer(leading, words), spelled)
    if spelled is not None and (spelled.language == language or language is None):
        return "number", LIKELY, spelled
    if answers:
        return (*_answer(answers, words, confidence=UNSURE), spelled)
    if spelled is not None:
        return "number", UNSURE, spelled
    return "nlu_fallback", FALLBACK, spelled


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
