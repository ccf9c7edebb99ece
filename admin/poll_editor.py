"""The poll builder's form, between posted fields and the poll format.

The builder is a plain HTML form (it works without JavaScript on a phone over a slow
connection), so every field has a flat name: `q-2-prompt-sw`, `q-2-c-1-label-en`. The
validator in `bot.flows.poll_format` names problems by location (`questions[2].choices[1]
.label.sw`); `field_id` turns that location into the same flat name, so each problem is
shown next to the field it is about.
"""

from __future__ import annotations

import re
from typing import Any

from admin.i18n import N_, gettext
from bot.flows.poll_format import QUESTION_TYPES, PollDefinition, poll_to_dict

EDITABLE_CHOICES = ("choice", "multi_choice")
_LANG_SPLIT = re.compile(r"[\s,;]+")
_SLUG = re.compile(r"[^a-z0-9]+")


def field_id(location: str) -> str:
    """`questions[2].choices[1].label.sw` → `q-2-c-1-label-sw`; `languages[0]` → `languages`."""
    where = re.sub(r"^questions\[(\d+)\]", r"q-\1", location)
    where = re.sub(r"choices\[(\d+)\]", r"c-\1", where)
    where = re.sub(r"(sdg|languages)\[\d+\]", r"\1", where)
    return where.replace(".", "-")


# The validator's messages (bot.flows.poll_format, in English: the CLI and the API print
# them as they are), as the builder shows them in the coordinator's language. Each msgid is
# the English message with its variable parts as placeholders; a message not listed here
# (a new one, a condition parser's detail) is shown in English rather than not at all.
VALIDATOR_MESSAGES = (
    N_("unknown field %(name)s (allowed: %(allowed)s)"),
    N_("required: lowercase letters, digits, '-' or '_' (a slug)"),
    N_("at least 1 question required"),
    N_("at most %(count)s questions allowed"),
    N_("duplicate question key %(key)s"),
    N_("at least 1 language code required, e.g. [en, sw]"),
    N_("%(code)s is not an ISO 639 code like 'en'"),
    N_("duplicate language %(code)s"),
    N_("required, at least in the first language"),
    N_("required, at least in %(language)s"),
    N_("must be text or a mapping of language to text"),
    N_("language is not in the poll's languages"),
    N_("must be non-empty text"),
    N_("missing text in the first language (%(language)s)"),
    N_("must be a mapping of fields"),
    N_("unknown field %(name)s"),
    N_("required: a letter or '_' then letters, digits or '_'"),
    N_("%(type)s is not one of %(types)s"),
    N_("must be true or false"),
    N_("must be a condition such as \"works == 'no'\""),
    N_("yes_no choices must be exactly 'yes' then 'no'"),
    N_("not allowed for type %(type)s"),
    N_("at least 2 choices required"),
    N_("at most %(count)s choices allowed"),
    N_("must be a mapping with value and label"),
    N_("required: text of at most 64 characters (quote yes/no)"),
    N_("duplicate value %(value)s"),
    N_("duplicate label %(label)s"),
    N_("ratings are always 1-5; omit %(name)s"),
    N_("must be a number"),
    N_("min (%(low)s) is greater than max (%(high)s)"),
    N_('must be a list of SDG indicators such as ["6.1.1"]'),
    N_("%(tag)s is not an SDG indicator like '6.1.1'"),
    N_("%(name)s refers to this question itself"),
    N_("%(name)s is not an earlier question"),
    N_("%(literal)s is not a choice of %(name)s"),
    N_("%(name)s is a number; compare it with a number, not %(literal)s"),
    N_("a poll called %(key)s already exists; edit it instead"),
)
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _pattern(msgid: str) -> re.Pattern[str]:
    parts = _PLACEHOLDER.split(msgid)  # literal, name, literal, name, …
    return re.compile(
        "".join(
            f"(?P<{part}>.+?)" if index % 2 else re.escape(part) for index, part in enumerate(parts)
        ),
        re.DOTALL,
    )


_PATTERNS = [(_pattern(msgid), msgid) for msgid in VALIDATOR_MESSAGES]


def translate_message(message: str) -> str:
    """One validator message in the request's language, its values (keys, codes) kept."""
    for pattern, msgid in _PATTERNS:
        found = pattern.fullmatch(message)
        if found:
            return gettext(msgid, **found.groupdict())
    return message


def translate_problem(problem: str) -> str:
    """`questions[0].key: duplicate question key 'q1'`, its message translated."""
    location, separator, message = problem.partition(": ")
    if not separator:
        return translate_message(problem)
    return f"{location}{separator}{translate_message(message)}"


def problems_by_field(problems: list[str]) -> dict[str, list[str]]:
    """Each problem under the field it is about, translated (the location stays a key)."""
    found: dict[str, list[str]] = {}
    for problem in problems:
        location, _, message = problem.partition(": ")
        found.setdefault(field_id(location), []).append(translate_message(message or problem))
    return found


def empty_question(index: int) -> dict[str, Any]:
    return {
        "key": f"q{index + 1}",
        "type": "choice",
        "prompt": {},
        "when": "",
        "min": "",
        "max": "",
        "sdg": "",
        "required": True,
        "choices": [],
    }


def editor_from_definition(defn: PollDefinition) -> dict[str, Any]:
    data = poll_to_dict(defn)
    questions = []
    for question in data["questions"]:
        questions.append(
            {
                "key": question["key"],
                "type": question["type"],
                "prompt": question["prompt"],
                "when": question.get("when", ""),
                "min": _plain(question.get("min")),
                "max": _plain(question.get("max")),
                "sdg": ", ".join(question.get("sdg", [])),
                "required": question.get("required", True),
                "choices": question.get("choices", [])
                if question["type"] in EDITABLE_CHOICES
                else [],
            }
        )
    return {
        "key": data["key"],
        "languages": data["languages"],
        "title": data.get("title", {}),
        "end_message": data.get("end_message", {}),
        "questions": questions,
    }


def _plain(number: object) -> str:
    if number is None:
        return ""
    if isinstance(number, float) and number.is_integer():
        return str(int(number))
    return str(number)


def new_editor(languages: list[str]) -> dict[str, Any]:
    return {
        "key": "",
        "languages": languages,
        "title": {},
        "end_message": {},
        "questions": [empty_question(0)],
    }


def parse_languages(raw: str) -> list[str]:
    seen: list[str] = []
    for code in _LANG_SPLIT.split(raw.strip().lower()):
        if code and code not in seen:
            seen.append(code)
    return seen


def editor_from_form(form: Any) -> dict[str, Any]:
    """What the coordinator typed, kept as typed (numbers stay text) so a form with
    mistakes re-renders exactly as it was sent."""
    languages = parse_languages(form.get("languages", ""))
    count = _int(form.get("question_count"), 0)
    questions = []
    for index in range(min(count, 200)):
        prefix = f"q-{index}-"
        if form.get(prefix + "remove"):
            continue
        question = {
            "key": form.get(prefix + "key", "").strip(),
            "type": form.get(prefix + "type", "choice"),
            "prompt": _texts(form, prefix + "prompt-", languages),
            "when": form.get(prefix + "when", "").strip(),
            "min": form.get(prefix + "min", "").strip(),
            "max": form.get(prefix + "max", "").strip(),
            "sdg": form.get(prefix + "sdg", "").strip(),
            "required": not form.get(prefix + "optional"),
            "choices": _choices(form, prefix, languages),
        }
        if not question["key"] and not question["prompt"] and not question["choices"]:
            continue  # an added question left blank
        questions.append(question)
    return {
        "key": form.get("key", "").strip(),
        "languages": languages,
        "title": _texts(form, "title-", languages),
        "end_message": _texts(form, "end_message-", languages),
        "questions": questions,
    }


def _int(raw: object, default: int) -> int:
    try:
        return int(str(raw))
    except ValueError:
        return default


def _texts(form: Any, prefix: str, languages: list[str]) -> dict[str, str]:
    texts = {}
    for language in languages:
        text = form.get(prefix + language, "").strip()
        if text:
            texts[language] = text
    return texts


def _choices(form: Any, prefix: str, languages: list[str]) -> list[dict[str, Any]]:
    choices = []
    for index in range(min(_int(form.get(prefix + "choice_count"), 0), 50)):
        at = f"{prefix}c-{index}-"
        value = form.get(at + "value", "").strip()
        label = _texts(form, at + "label-", languages)
        if not value and not label:
            continue
        if not value and languages and label.get(languages[0]):
            value = _SLUG.sub("_", label[languages[0]].lower()).strip("_")[:64]
        choices.append({"value": value, "label": label})
    return choices


def poll_dict(editor: dict[str, Any]) -> dict[str, Any]:
    """The poll format dict for `load_poll`; question and choice indexes match the editor's,
    so the validator's locations point at the fields on the page."""
    data: dict[str, Any] = {"key": editor["key"], "languages": editor["languages"]}
    if editor["title"]:
        data["title"] = editor["title"]
    if editor["end_message"]:
        data["end_message"] = editor["end_message"]
    data["questions"] = [_question_dict(q) for q in editor["questions"]]
    return data


def _question_dict(question: dict[str, Any]) -> dict[str, Any]:
    item: dict[str, Any] = {
        "key": question["key"],
        "type": question["type"],
        "prompt": question["prompt"],
    }
    if question["type"] in EDITABLE_CHOICES:
        item["choices"] = question["choices"]
    if question["type"] == "number":
        for name in ("min", "max"):
            if question[name] != "":
                item[name] = _number(question[name])
    if question["when"]:
        item["when"] = question["when"]
    if not question["required"]:
        item["required"] = False
    sdg = [tag for tag in _LANG_SPLIT.split(question["sdg"]) if tag]
    if sdg:
        item["sdg"] = sdg
    return item


def _number(raw: str) -> int | float | str:
    """A number when it reads as one; otherwise the text, for the validator to reject."""
    try:
        return int(raw)
    except ValueError:
        pass
    try:
        return float(raw)
    except ValueError:
        return raw


__all__ = [
    "QUESTION_TYPES",
    "editor_from_definition",
    "editor_from_form",
    "field_id",
    "new_editor",
    "poll_dict",
    "problems_by_field",
    "translate_problem",
]
