"""What a participant's reply means as an answer to one question.

People reply on basic phones, in their own language and spelling: `2`, `ndiyo`, `Hapana.`,
`có`, `हाँ`, `1 and 3`, `1,200`. This module turns such a reply into a stored value, or
into a reason code (`hint`) the engine turns into a localised re-ask. It is pure: the NLU
has already run, and its result is passed in as `interpretation`.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass

from bot.flows.poll_format import RATING_MAX, RATING_MIN, ChoiceDef, QuestionDef, localised

MAX_TEXT = 1000
MIN_PREFIX = 3
# Anything longer is not an answer to a question, and parsing it only costs time.
MAX_REPLY = 2000

# "and" in the languages Heard serves; a multi-choice reply is "1 and 3" in any of them.
_AND_WORDS = ("and", "na", "et", "và", "और", "এবং", "ना", "da", "ndi", "و", "र")

HINT_EMPTY = "empty"
HINT_CHOOSE_NUMBER = "choose_number"
HINT_AMBIGUOUS = "ambiguous"
HINT_NOT_A_NUMBER = "not_a_number"
HINT_OUT_OF_RANGE = "out_of_range"
HINT_TOO_LONG = "too_long"


@dataclass(frozen=True)
class AnswerResult:
    ok: bool
    value: object | None = None
    hint: str | None = None


def _fail(hint: str) -> AnswerResult:
    return AnswerResult(False, None, hint)


def fold(text: str) -> str:
    """Case-, accent- and punctuation-insensitive form for matching words.

    NFKD then dropping combining marks turns "Có" into "co" and "हाँ"/"हां" into the same
    string, which is what people type on keyboards without those marks.
    """
    text = unicodedata.normalize("NFKD", text.casefold().replace("đ", "d"))
    kept: list[str] = []
    for char in text:
        category = unicodedata.category(char)
        if category == "Mn":
            continue
        # Apostrophes join a word ("A'a" in Hausa); other punctuation separates.
        if char in "'’`":
            continue
        kept.append(" " if category[0] in "PSZC" else char)
    return " ".join("".join(kept).split())


CONJUNCTIONS = frozenset(fold(word) for word in _AND_WORDS)


def interpret_answer(
    question: QuestionDef,
    text: str,
    *,
    language: str,
    languages: tuple[str, ...],
    interpretation: object | None = None,
) -> AnswerResult:
    """Never raises: any reply gets either a value or a hint."""
    try:
        return _interpret(question, text, interpretation)
    except Exception:
        # A reply must never break the conversation; treat the unexpected as unclear.
        return _fail(HINT_CHOOSE_NUMBER if question.choices else HINT_NOT_A_NUMBER)


def _interpret(question: QuestionDef, text: str, interpretation: object | None) -> AnswerResult:
    text = (text or "").strip()
    if not text:
        return _fail(HINT_EMPTY)
    if question.type == "text":
        return AnswerResult(True, text[:MAX_TEXT])
    if len(text) > MAX_REPLY:
        return _fail(HINT_TOO_LONG)
    if question.type in ("choice", "yes_no"):
        return _one_choice(question, text, interpretation)
    if question.type == "multi_choice":
        return _many_choices(question, text, interpretation)
    if question.type == "rating":
        return _number(text, interpretation, RATING_MIN, RATING_MAX, whole=True)
    return _number(text, interpretation, question.min, question.max, whole=False)


# --- choices ------------------------------------------------------------------------------


def _names(choice: ChoiceDef) -> set[str]:
    names = {fold(choice.value)} | {fold(label) for label in choice.label.values()}
    names.discard("")
    return names


def _match(choices: tuple[ChoiceDef, ...], phrase: str) -> ChoiceDef | str:
    """The choice `phrase` (folded) names, or a hint why none does."""
    if phrase.isdecimal():
        number = int(phrase)
        if 1 <= number <= len(choices):
            return choices[number - 1]
        return HINT_CHOOSE_NUMBER
    exact = [c for c in choices if phrase in _names(c)]
    if len(exact) == 1:
        return exact[0]
    if len(exact) > 1:
        return HINT_AMBIGUOUS
    if len(phrase.replace(" ", "")) < MIN_PREFIX:
        return HINT_CHOOSE_NUMBER
    prefixed = [c for c in choices if any(name.startswith(phrase) for name in _names(c))]
    if len(prefixed) == 1:
        return prefixed[0]
    return HINT_AMBIGUOUS if prefixed else HINT_CHOOSE_NUMBER


def _one_choice(question: QuestionDef, text: str, interpretation: object | None) -> AnswerResult:
    found = _match(question.choices, fold(text))
    if isinstance(found, ChoiceDef):
        return AnswerResult(True, found.value)
    from_nlu = _choice_from_interpretation(question.choices, interpretation)
    if from_nlu is not None:
        return AnswerResult(True, from_nlu.value)
    return _fail(found)


def _choice_from_interpretation(
    choices: tuple[ChoiceDef, ...], interpretation: object | None
) -> ChoiceDef | None:
    if interpretation is None:
        return None
    by_value = {c.value: c for c in choices}
    named = getattr(interpretation, "choice", None)
    if isinstance(named, str) and named in by_value:
        return by_value[named]
    intent = getattr(interpretation, "intent", None)
    # "yes"/"no" choices also exist outside yes_no questions ("1 Yes 2 Partly 3 No").
    if intent == "affirm" and "yes" in by_value:
        return by_value["yes"]
    if intent == "deny" and "no" in by_value:
        return by_value["no"]
    number = getattr(interpretation, "number", None)
    if isinstance(number, int) and not isinstance(number, bool) and 1 <= number <= len(choices):
        return choices[number - 1]
    return None


def _many_choices(question: QuestionDef, text: str, interpretation: object | None) -> AnswerResult:
    folded = fold(text)
    whole = _match(question.choices, folded)
    if isinstance(whole, ChoiceDef):
        return AnswerResult(True, [whole.value])
    # "1and3", "1و3": digits glued to words are still separate items.
    words = re.sub(r"(\d+)", r" \1 ", folded).split()
    values: list[str] = []
    start = 0
    while start < len(words):
        if words[start] in CONJUNCTIONS:
            start += 1
            continue
        choice, start = _longest_choice(question.choices, words, start)
        if choice is None:
            from_nlu = _choice_from_interpretation(question.choices, interpretation)
            if from_nlu is not None and not values:
                return AnswerResult(True, [from_nlu.value])
            return _fail(HINT_CHOOSE_NUMBER)
        if choice.value not in values:
            values.append(choice.value)
    if not values:
        return _fail(HINT_CHOOSE_NUMBER)
    return AnswerResult(True, values)


def _longest_choice(
    choices: tuple[ChoiceDef, ...], words: list[str], start: int
) -> tuple[ChoiceDef | None, int]:
    # Longest phrase first, so a two-word label ("maji safi") wins over its first word;
    # no phrase is longer than the longest label, which bounds the work on long replies.
    longest = max((len(name.split()) for c in choices for name in _names(c)), default=1)
    for end in range(min(len(words), start + longest), start, -1):
        found = _match(choices, " ".join(words[start:end]))
        if isinstance(found, ChoiceDef):
            return found, end
    return None, start


# --- numbers ------------------------------------------------------------------------------

_NUMBER_RE = re.compile(
    r"^[+-]?(?:\d{1,3}(?:[, ]\d{3})+|\d+)(?:[.,]\d+)?$",
)
_NUMBER_IN_TEXT_RE = re.compile(r"[+-]?\d+(?:[.,]\d+)*")


def parse_number(text: str) -> int | float | None:
    """'1,200' -> 1200, '1 200' -> 1200, '2.5'/'2,5' -> 2.5; None for anything else."""
    text = text.strip()
    if not _NUMBER_RE.match(text):
        return None
    sign = -1 if text.startswith("-") else 1
    text = text.lstrip("+-")
    # A comma followed by exactly three digits groups thousands; otherwise it is decimal.
    groups = re.fullmatch(r"(\d{1,3}(?:[, ]\d{3})+)([.]\d+)?", text)
    if groups:
        digits = re.sub(r"[, ]", "", groups.group(1)) + (groups.group(2) or "")
    else:
        digits = text.replace(" ", "").replace(",", ".")
    try:
        value = float(digits) if "." in digits else int(digits)
    except ValueError:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return sign * value


def _number(
    text: str,
    interpretation: object | None,
    low: float | None,
    high: float | None,
    *,
    whole: bool,
) -> AnswerResult:
    value = parse_number(text)
    if value is None:
        value = _number_from_interpretation(interpretation)
    if value is None:
        # "about 20 days": one number among words is the answer.
        found = _NUMBER_IN_TEXT_RE.findall(text)
        if len(found) == 1:
            value = parse_number(found[0])
    if value is None or abs(value) > 1e12:
        return _fail(HINT_NOT_A_NUMBER)
    if whole and not float(value).is_integer():
        return _fail(HINT_OUT_OF_RANGE)
    if (low is not None and value < low) or (high is not None and value > high):
        return _fail(HINT_OUT_OF_RANGE)
    return AnswerResult(True, value)


def _number_from_interpretation(interpretation: object | None) -> int | float | None:
    number = getattr(interpretation, "number", None) if interpretation is not None else None
    if isinstance(number, bool) or not isinstance(number, int | float):
        return None
    if isinstance(number, float) and not math.isfinite(number):
        return None
    return number


# --- text to send -------------------------------------------------------------------------


def format_choices(question: QuestionDef, language: str, languages: tuple[str, ...]) -> str:
    """'1 Yes 2 No': the numbered inline listing a basic phone shows best."""
    if question.type == "rating":
        return f"({RATING_MIN}-{RATING_MAX})"
    return " ".join(
        f"{number} {localised(choice.label, language, languages)}"
        for number, choice in enumerate(question.choices, start=1)
    )


def prompt_text(question: QuestionDef, language: str, languages: tuple[str, ...]) -> str:
    """The question as one SMS: its prompt, then the choices to reply with."""
    prompt = localised(question.prompt, language, languages)
    choices = format_choices(question, language, languages)
    return f"{prompt}\n{choices}" if choices else prompt
