"""The poll format (DESIGN.md "Poll format"): typed, validated, channel-neutral.

A poll arrives as YAML/JSON (or XLSForm, converted to the same dict) and is loaded once
into these frozen values; the flow runtime and every renderer work from them, never from
the raw dict, so SMS and USSD ask exactly the same questions.

The validator reports every problem at once, each with its location
(`questions[2].choices: at least 2 choices required`): a coordinator fixing a poll in the
panel should not have to resubmit once per mistake.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.flows.conditions import ConditionError, compiled, parse_condition

QUESTION_TYPES = ("choice", "multi_choice", "yes_no", "number", "rating", "text")
CHOICE_TYPES = ("choice", "multi_choice", "yes_no")
RATING_MIN, RATING_MAX = 1, 5
MAX_QUESTIONS = 200
MAX_CHOICES = 50

_POLL_FIELDS = ("key", "languages", "questions", "title", "end_message")
_QUESTION_FIELDS = (
    "key", "type", "prompt", "choices", "min", "max", "when", "required", "sdg", "prompt_latin",
)  # fmt: skip
_POLL_KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
# Question keys appear as identifiers in `when:` expressions, hence the stricter shape.
_QUESTION_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_LANGUAGE_RE = re.compile(r"^[a-z]{2,3}$")
# SDG indicators: goal.target.indicator, targets may be lettered ("6.b.1", "17.18.1").
_SDG_RE = re.compile(r"^(\d{1,2})\.([a-z0-9]{1,2})\.([0-9]{1,2})$")
_RESERVED = frozenset({"and", "or", "not", "in", "true", "false", "null"})

# Participants answer yes/no questions in their own words; these labels make that work
# even when the poll author gave none.
YES_NO_LABELS: dict[str, dict[str, str]] = {
    "yes": {
        "en": "Yes", "sw": "Ndiyo", "fr": "Oui", "vi": "Có", "hi": "हाँ",
        "bn": "হ্যাঁ", "ne": "हो", "ny": "Inde", "ha": "Ee", "ar": "نعم",
    },
    "no": {
        "en": "No", "sw": "Hapana", "fr": "Non", "vi": "Không", "hi": "नहीं",
        "bn": "না", "ne": "होइन", "ny": "Ayi", "ha": "A'a", "ar": "لا",
    },
}  # fmt: skip


@dataclass(frozen=True)
class ChoiceDef:
    value: str
    label: dict[str, str]


@dataclass(frozen=True)
class QuestionDef:
    key: str
    type: str
    prompt: dict[str, str]
    choices: tuple[ChoiceDef, ...] = ()
    min: float | None = None
    max: float | None = None
    when: str | None = None
    required: bool = True
    sdg: tuple[str, ...] = ()
    # Latin-script variants for USSD, keyed by language (e.g. {"hi": "Kya pani ..."}).
    prompt_latin: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PollDefinition:
    key: str
    languages: tuple[str, ...]
    questions: tuple[QuestionDef, ...]
    title: dict[str, str] = field(default_factory=dict)
    end_message: dict[str, str] = field(default_factory=dict)

    def question(self, key: str) -> QuestionDef:
        for q in self.questions:
            if q.key == key:
                return q
        raise KeyError(key)


@dataclass(frozen=True)
class PollImport:
    """A loaded poll plus what the author should look at (lossy XLSForm parts, gaps)."""

    definition: PollDefinition
    warnings: list[str] = field(default_factory=list)


class PollValidationError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


def localised(texts: dict[str, str], language: str, languages: tuple[str, ...]) -> str:
    """The text in `language`, else in the poll's first language, else any."""
    if language in texts:
        return texts[language]
    for fallback in languages:
        if fallback in texts:
            return texts[fallback]
    return next(iter(texts.values()), "")


def should_ask(question: QuestionDef, answers: Mapping[str, object]) -> bool:
    """Whether skip logic lets `question` be asked, given the answers so far."""
    if not question.when:
        return True
    return compiled(question.when).evaluate(answers)


# --- loading ------------------------------------------------------------------------------


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{where}: {message}")


def load_poll(data: Mapping) -> PollDefinition:
    """Validate a poll dict and build its definition, or raise with every problem found."""
    problems = _Problems()
    if not isinstance(data, Mapping):
        raise PollValidationError(["poll: must be a mapping of fields"])
    for name in data:
        if name not in _POLL_FIELDS:
            problems.add("poll", f"unknown field {name!r} (allowed: {', '.join(_POLL_FIELDS)})")

    key = data.get("key")
    if not isinstance(key, str) or not _POLL_KEY_RE.match(key):
        problems.add("key", "required: lowercase letters, digits, '-' or '_' (a slug)")
    languages = _languages(data.get("languages"), problems)
    title = _optional_texts(data.get("title"), "title", languages, problems)
    end_message = _optional_texts(data.get("end_message"), "end_message", languages, problems)

    raw_questions = data.get("questions")
    questions: list[QuestionDef] = []
    if not isinstance(raw_questions, list) or not raw_questions:
        problems.add("questions", "at least 1 question required")
    elif len(raw_questions) > MAX_QUESTIONS:
        problems.add("questions", f"at most {MAX_QUESTIONS} questions allowed")
    else:
        earlier: dict[str, QuestionDef] = {}
        for index, raw in enumerate(raw_questions):
            where = f"questions[{index}]"
            question = _question(raw, where, languages, problems)
            if question is None:
                continue
            if question.key in earlier:
                problems.add(f"{where}.key", f"duplicate question key {question.key!r}")
            _check_when(question, where, earlier, problems)
            earlier.setdefault(question.key, question)
            questions.append(question)

    if problems.items or not isinstance(key, str):
        raise PollValidationError(problems.items)
    return PollDefinition(
        key=key,
        languages=languages,
        questions=tuple(questions),
        title=title,
        end_message=end_message,
    )


def _languages(raw: object, problems: _Problems) -> tuple[str, ...]:
    if not isinstance(raw, list) or not raw:
        problems.add("languages", "at least 1 language code required, e.g. [en, sw]")
        return ()
    codes: list[str] = []
    for index, code in enumerate(raw):
        if not isinstance(code, str) or not _LANGUAGE_RE.match(code):
            problems.add(f"languages[{index}]", f"{code!r} is not an ISO 639 code like 'en'")
        elif code in codes:
            problems.add(f"languages[{index}]", f"duplicate language {code!r}")
        else:
            codes.append(code)
    return tuple(codes)


def _texts(
    raw: object, where: str, languages: tuple[str, ...], problems: _Problems, *, required: bool
) -> dict[str, str]:
    """A per-language text; a plain string stands for the poll's first language."""
    first = languages[0] if languages else None
    if raw is None:
        if required:
            problems.add(where, f"required, at least in {first or 'the first language'}")
        return {}
    if isinstance(raw, str):
        raw = {first: raw} if first else {}
    if not isinstance(raw, Mapping):
        problems.add(where, "must be text or a mapping of language to text")
        return {}
    texts: dict[str, str] = {}
    for language, text in raw.items():
        if languages and language not in languages:
            problems.add(f"{where}.{language}", "language is not in the poll's languages")
        elif not isinstance(text, str) or not text.strip():
            problems.add(f"{where}.{language}", "must be non-empty text")
        else:
            texts[language] = text.strip()
    # An empty first-language text was reported above; don't report it twice.
    if required and first and first not in raw:
        problems.add(where, f"missing text in the first language ({first})")
    return texts


def _optional_texts(
    raw: object, where: str, languages: tuple[str, ...], problems: _Problems
) -> dict[str, str]:
    if raw is None:
        return {}
    return _texts(raw, where, languages, problems, required=True)


def _question(
    raw: object, where: str, languages: tuple[str, ...], problems: _Problems
) -> QuestionDef | None:
    if not isinstance(raw, Mapping):
        problems.add(where, "must be a mapping of fields")
        return None
    for name in raw:
        if name not in _QUESTION_FIELDS:
            problems.add(where, f"unknown field {name!r}")

    key = raw.get("key")
    if not isinstance(key, str) or not _QUESTION_KEY_RE.match(key) or key in _RESERVED:
        problems.add(f"{where}.key", "required: a letter or '_' then letters, digits or '_'")
        key = f"<{where}>"
    qtype = raw.get("type")
    if qtype not in QUESTION_TYPES:
        problems.add(f"{where}.type", f"{qtype!r} is not one of {', '.join(QUESTION_TYPES)}")
    prompt = _texts(raw.get("prompt"), f"{where}.prompt", languages, problems, required=True)
    # Only scripts a USSD screen can't show need a Latin variant, so none is required.
    latin = _texts(
        raw.get("prompt_latin"), f"{where}.prompt_latin", languages, problems, required=False
    )

    required = raw.get("required", True)
    if not isinstance(required, bool):
        problems.add(f"{where}.required", "must be true or false")
        required = True
    when = raw.get("when")
    if when is not None and (not isinstance(when, str) or not when.strip()):
        problems.add(f"{where}.when", "must be a condition such as \"works == 'no'\"")
        when = None

    choices = _choices_for(qtype, raw.get("choices"), where, languages, problems)
    low, high = _bounds(qtype, raw, where, problems)
    return QuestionDef(
        key=key,
        type=qtype if isinstance(qtype, str) else "",
        prompt=prompt,
        choices=choices,
        min=low,
        max=high,
        when=when.strip() if isinstance(when, str) else None,
        required=required,
        sdg=_sdg(raw.get("sdg"), f"{where}.sdg", problems),
        prompt_latin=latin,
    )


def _choices_for(
    qtype: object, raw: object, where: str, languages: tuple[str, ...], problems: _Problems
) -> tuple[ChoiceDef, ...]:
    if qtype in ("choice", "multi_choice"):
        return _choices(raw, f"{where}.choices", languages, problems)
    if qtype == "yes_no":
        if raw is None:
            return default_yes_no_choices()
        choices = _choices(raw, f"{where}.choices", languages, problems)
        if choices and [c.value for c in choices] != ["yes", "no"]:
            problems.add(f"{where}.choices", "yes_no choices must be exactly 'yes' then 'no'")
        return choices
    if raw is not None and qtype in QUESTION_TYPES:
        problems.add(f"{where}.choices", f"not allowed for type {qtype}")
    return ()


def default_yes_no_choices() -> tuple[ChoiceDef, ...]:
    return tuple(ChoiceDef(value, dict(labels)) for value, labels in YES_NO_LABELS.items())


def _choices(
    raw: object, where: str, languages: tuple[str, ...], problems: _Problems
) -> tuple[ChoiceDef, ...]:
    if not isinstance(raw, list) or len(raw) < 2:
        problems.add(where, "at least 2 choices required")
        return ()
    if len(raw) > MAX_CHOICES:
        problems.add(where, f"at most {MAX_CHOICES} choices allowed")
    choices: list[ChoiceDef] = []
    seen_values: set[str] = set()
    seen_labels: set[tuple[str, str]] = set()
    for index, item in enumerate(raw):
        at = f"{where}[{index}]"
        if not isinstance(item, Mapping):
            problems.add(at, "must be a mapping with value and label")
            continue
        for name in item:
            if name not in ("value", "label"):
                problems.add(at, f"unknown field {name!r}")
        value = item.get("value")
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value.strip() or len(value) > 64:
            problems.add(f"{at}.value", "required: text of at most 64 characters (quote yes/no)")
            value = f"<{at}>"
        elif value in seen_values:
            problems.add(f"{at}.value", f"duplicate value {value!r}")
        seen_values.add(value)
        label = _texts(item.get("label"), f"{at}.label", languages, problems, required=True)
        for language, text in label.items():
            folded = (language, text.casefold())
            if folded in seen_labels:
                problems.add(f"{at}.label.{language}", f"duplicate label {text!r}")
            seen_labels.add(folded)
        choices.append(ChoiceDef(value, label))
    return tuple(choices)


def _bounds(
    qtype: object, raw: Mapping, where: str, problems: _Problems
) -> tuple[float | None, float | None]:
    low, high = raw.get("min"), raw.get("max")
    if qtype == "rating":
        for name, given, expected in (("min", low, RATING_MIN), ("max", high, RATING_MAX)):
            if given is not None and given != expected:
                problems.add(f"{where}.{name}", f"ratings are always 1-5; omit {name}")
        return RATING_MIN, RATING_MAX
    if qtype != "number":
        for name, given in (("min", low), ("max", high)):
            if given is not None and qtype in QUESTION_TYPES:
                problems.add(f"{where}.{name}", f"not allowed for type {qtype}")
        return None, None
    for name, given in (("min", low), ("max", high)):
        if given is not None and _finite(given) is None:
            problems.add(f"{where}.{name}", "must be a number")
    low, high = _finite(low), _finite(high)
    if low is not None and high is not None and low > high:
        problems.add(f"{where}.min", f"min ({low}) is greater than max ({high})")
    return low, high


def _finite(value: object) -> int | float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value if math.isfinite(value) else None


def _sdg(raw: object, where: str, problems: _Problems) -> tuple[str, ...]:
    if raw is None:
        return ()
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list):
        problems.add(where, 'must be a list of SDG indicators such as ["6.1.1"]')
        return ()
    tags: list[str] = []
    for index, tag in enumerate(raw):
        match = _SDG_RE.match(tag) if isinstance(tag, str) else None
        if match is None or not 1 <= int(match.group(1)) <= 17:
            problems.add(f"{where}[{index}]", f"{tag!r} is not an SDG indicator like '6.1.1'")
        elif tag not in tags:
            tags.append(tag)
    return tuple(tags)


def _check_when(
    question: QuestionDef, where: str, earlier: Mapping[str, QuestionDef], problems: _Problems
) -> None:
    if question.when is None:
        return
    at = f"{where}.when"
    try:
        condition = parse_condition(question.when)
    except ConditionError as error:
        problems.add(at, f"{error.message} at position {error.position}")
        return
    for name in sorted(condition.references):
        if name == question.key:
            problems.add(at, f"{name!r} refers to this question itself")
        elif name not in earlier:
            problems.add(at, f"{name!r} is not an earlier question")
    for name, literal in sorted(condition.compared_values, key=repr):
        target = earlier.get(name)
        if target is None:
            continue
        if target.type in CHOICE_TYPES and target.choices:
            values = {c.value for c in target.choices}
            if str(literal) not in values:
                problems.add(at, f"{literal!r} is not a choice of {name!r}")
        elif target.type in ("number", "rating") and isinstance(literal, str):
            problems.add(at, f"{name!r} is a number; compare it with a number, not {literal!r}")


# --- warnings, text, files ----------------------------------------------------------------


def poll_warnings(defn: PollDefinition) -> list[str]:
    """Missing translations: the poll still works (first-language fallback) but reads oddly."""
    warnings: list[str] = []

    def check(texts: dict[str, str], where: str) -> None:
        if not texts:
            return
        missing = [lang for lang in defn.languages if lang not in texts]
        if missing:
            warnings.append(f"{where}: no translation for {', '.join(missing)}")

    check(defn.title, "title")
    check(defn.end_message, "end_message")
    for index, question in enumerate(defn.questions):
        check(question.prompt, f"questions[{index}].prompt")
        for number, choice in enumerate(question.choices):
            check(choice.label, f"questions[{index}].choices[{number}].label")
    return warnings


class _Yaml12Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans: `No`/`yes`/`on` stay text.

    With YAML 1.1 rules `label: {en: No}` becomes False and a Norwegian `no:` key becomes
    a boolean; in a multilingual poll format those are words, not booleans.
    """


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def load_poll_text(text: str, *, fmt: str) -> PollDefinition:
    return load_poll(_parse_text(text, fmt=fmt))


def _parse_text(text: str, *, fmt: str) -> Mapping:
    try:
        if fmt == "json":
            data = json.loads(text)
        elif fmt == "yaml":
            data = yaml.load(
                text, Loader=_Yaml12Loader
            )  # a SafeLoader subclass: no arbitrary objects
        else:
            raise PollValidationError([f"poll: unknown format {fmt!r} (use yaml or json)"])
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        raise PollValidationError([f"poll: not valid {fmt.upper()}: {error}"]) from error
    if not isinstance(data, Mapping):
        raise PollValidationError(["poll: must be a mapping of fields"])
    return data


def import_poll_file(path: str | Path) -> PollImport:
    """Load .yaml/.yml/.json/.xlsx; the warnings list what was lost or is untranslated."""
    path = Path(path)
    suffix = path.suffix.lower()
    notes: list[str] = []
    try:
        if suffix in (".yaml", ".yml"):
            data = _parse_text(path.read_text(encoding="utf-8"), fmt="yaml")
        elif suffix == ".json":
            data = _parse_text(path.read_text(encoding="utf-8"), fmt="json")
        elif suffix in (".xlsx", ".xlsm"):
            from bot.flows.xlsform import XLSFormError, import_xlsform

            try:
                converted = import_xlsform(path)
            except XLSFormError as error:
                raise PollValidationError([f"xlsform: {error}"]) from error
            data = converted.poll
            notes = [f"not converted: {item}" for item in converted.not_converted]
        else:
            raise PollValidationError([f"poll: unsupported file type {suffix or path.name!r}"])
    except (OSError, UnicodeDecodeError) as error:
        raise PollValidationError([f"poll: cannot read {path}: {error}"]) from error
    try:
        definition = load_poll(data)
    except PollValidationError as error:
        raise PollValidationError(error.problems + notes) from error
    return PollImport(definition, notes + poll_warnings(definition))


def load_poll_file(path: str | Path) -> PollDefinition:
    return import_poll_file(path).definition


def poll_to_dict(defn: PollDefinition) -> dict:
    """The plain form stored as JSON; `load_poll(poll_to_dict(d)) == d`."""
    data: dict = {"key": defn.key, "languages": list(defn.languages)}
    if defn.title:
        data["title"] = dict(defn.title)
    if defn.end_message:
        data["end_message"] = dict(defn.end_message)
    data["questions"] = [_question_to_dict(q) for q in defn.questions]
    return data


def _question_to_dict(question: QuestionDef) -> dict:
    item: dict = {"key": question.key, "type": question.type, "prompt": dict(question.prompt)}
    if question.prompt_latin:
        item["prompt_latin"] = dict(question.prompt_latin)
    if question.choices and not (
        question.type == "yes_no" and question.choices == default_yes_no_choices()
    ):
        item["choices"] = [{"value": c.value, "label": dict(c.label)} for c in question.choices]
    if question.type == "number":
        if question.min is not None:
            item["min"] = question.min
        if question.max is not None:
            item["max"] = question.max
    if question.when:
        item["when"] = question.when
    if not question.required:
        item["required"] = False
    if question.sdg:
        item["sdg"] = list(question.sdg)
    return item
