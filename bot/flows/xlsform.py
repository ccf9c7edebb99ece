"""XLSForm import: an ODK/Kobo form becomes a Heard poll dict (DESIGN.md "Poll format").

Many organisations already hold their questionnaires as XLSForms. An SMS/USSD poll can
express only part of one (no GPS, photos, repeats or calculations), so the import is
deliberately lossy and says so: everything it cannot carry over is listed in
`not_converted` with its sheet row, rather than silently dropped. pyxform reads the
workbook (its sheet/column conventions and quirks are its job); the mapping is ours.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

from pyxform.errors import PyXFormError
from pyxform.xls2json_backends import xlsx_to_dict

from bot.flows.conditions import ConditionError, parse_condition

NUMBER_TYPES = ("integer", "int", "decimal")
SELECT_ONE = ("select_one", "select1", "select one")
SELECT_MULTIPLE = ("select_multiple", "select all that apply", "select multiple")
GROUP_BEGIN = ("begin group", "begin_group")
GROUP_END = ("end group", "end_group")
REPEAT_BEGIN = ("begin repeat", "begin_repeat")
REPEAT_END = ("end repeat", "end_repeat")
# Columns the import reads; any other column with content is reported as not converted.
SURVEY_COLUMNS = ("type", "name", "label", "required", "relevant", "constraint", "parameters")
SETTINGS_COLUMNS = ("form_id", "form_title", "default_language", "version")

# XLSForm authors often write `label::English` without a code; these are the languages
# Heard's communities use, plus common neighbours.
LANGUAGE_NAMES = {
    "english": "en", "swahili": "sw", "kiswahili": "sw", "french": "fr", "francais": "fr",
    "français": "fr", "vietnamese": "vi", "tieng viet": "vi", "tiếng việt": "vi",
    "hindi": "hi", "bengali": "bn", "bangla": "bn", "nepali": "ne", "chichewa": "ny",
    "chewa": "ny", "nyanja": "ny", "hausa": "ha", "arabic": "ar", "spanish": "es",
    "portuguese": "pt", "amharic": "am", "somali": "so", "luganda": "lg", "kinyarwanda": "rw",
    "yoruba": "yo", "igbo": "ig", "urdu": "ur", "tamil": "ta", "telugu": "te", "marathi": "mr",
    "gujarati": "gu", "punjabi": "pa", "zulu": "zu", "xhosa": "xh", "afrikaans": "af",
    "oromo": "om", "tigrinya": "ti", "indonesian": "id", "thai": "th", "burmese": "my",
    "khmer": "km", "chinese": "zh", "russian": "ru", "german": "de", "italian": "it",
    "kikuyu": "ki", "dholuo": "luo", "luo": "luo", "kamba": "kam", "tumbuka": "tum",
}  # fmt: skip
_CODE_RE = re.compile(r"\(\s*([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]+)*\s*\)\s*$")


class XLSFormError(ValueError):
    """The file is not a readable XLSForm (not a workbook, or no survey sheet)."""


@dataclass(frozen=True)
class XLSFormImport:
    poll: dict
    not_converted: list[str] = field(default_factory=list)


def language_code(name: str) -> str | None:
    """'English (en)' -> 'en', 'Kiswahili' -> 'sw', 'sw' -> 'sw'; None if unknown."""
    name = name.strip()
    match = _CODE_RE.search(name)
    if match:
        return match.group(1).lower()
    if re.fullmatch(r"[a-z]{2,3}", name):
        return name
    return LANGUAGE_NAMES.get(name.casefold())


def import_xlsform(path_or_bytes: str | Path | bytes) -> XLSFormImport:
    workbook = _read(path_or_bytes)
    return _Converter(workbook, _stem(path_or_bytes)).convert()


def _read(path_or_bytes: str | Path | bytes) -> dict:
    source = BytesIO(path_or_bytes) if isinstance(path_or_bytes, bytes) else path_or_bytes
    try:
        workbook = xlsx_to_dict(source)
    except PyXFormError as error:
        raise XLSFormError(f"not a readable .xlsx workbook: {error}") from error
    if not workbook.get("survey"):
        raise XLSFormError("no 'survey' sheet with questions")
    return workbook


def _stem(path_or_bytes: str | Path | bytes) -> str:
    return "xlsform" if isinstance(path_or_bytes, bytes) else Path(path_or_bytes).stem


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9_-]+", "-", text.casefold()).strip("-_")
    return slug[:64] or "xlsform"


def _truthy(value: str | None) -> bool | None:
    if value is None:
        return False
    folded = value.strip().casefold()
    if folded in ("yes", "true", "true()", "1"):
        return True
    if folded in ("no", "false", "false()", "0", ""):
        return False
    return None


@dataclass
class _Group:
    kind: str  # "group" or "repeat"
    name: str
    when: str | None


class _Converter:
    def __init__(self, workbook: dict, stem: str) -> None:
        self.workbook = workbook
        self.stem = stem
        self.notes: list[str] = []
        settings = (workbook.get("settings") or [{}])[0]
        self.settings = {k.strip().casefold(): v for k, v in settings.items()}
        self.default_language = self._default_language()
        self.languages: list[str] = [self.default_language] if self.default_language else []
        self.keys: dict[str, str] = {}  # XLSForm name -> our question key
        self.choice_lists: dict[str, list[dict]] = {}

    def note(self, message: str) -> None:
        self.notes.append(message)

    def convert(self) -> XLSFormImport:
        self._settings_notes()
        # Languages in the order the survey's label columns give them, after the default.
        for header in (self.workbook.get("survey_header") or [{}])[0]:
            base, _, suffix = header.partition("::")
            code = language_code(suffix) if base.strip().casefold() == "label" else None
            if code:
                self._language(code)
        self.choice_lists = self._choice_lists()
        questions = self._questions()
        poll: dict = {
            "key": _slug(self.settings.get("form_id") or self.stem),
            "languages": self.languages or ["en"],
            "questions": questions,
        }
        title = self.settings.get("form_title")
        if title:
            poll["title"] = {poll["languages"][0]: title}
        return XLSFormImport(poll, self.notes)

    # --- settings and languages -----------------------------------------------------------

    def _default_language(self) -> str | None:
        raw = self.settings.get("default_language")
        if not raw:
            return None
        code = language_code(raw)
        if code is None:
            self.note(f"settings: default_language {raw!r} is not a known language")
        return code

    def _settings_notes(self) -> None:
        for name, value in self.settings.items():
            if name not in SETTINGS_COLUMNS and value:
                self.note(f"settings: {name!r} not converted")

    def _labels(self, row: dict, where: str, column: str = "label") -> dict[str, str]:
        labels: dict[str, str] = {}
        plain: str | None = None
        for header, value in row.items():
            base, _, suffix = header.partition("::")
            if base.strip().casefold() != column or not value:
                continue
            if not suffix:
                plain = value
                continue
            code = language_code(suffix)
            if code is None:
                self.note(f"{where}: column {header!r} has no language code like 'Name (xx)'")
                continue
            self._language(code)
            labels[code] = value
        if plain is not None:
            # pyxform calls an unsuffixed label the "default" language.
            code = self.default_language or "en"
            self._language(code)
            labels.setdefault(code, plain)
        return labels

    def _fallback(self) -> str:
        return self.languages[0] if self.languages else "en"

    def _language(self, code: str) -> None:
        if code not in self.languages:
            self.languages.append(code)

    # --- choices --------------------------------------------------------------------------

    def _choice_lists(self) -> dict[str, list[dict]]:
        lists: dict[str, list[dict]] = {}
        extra: set[str] = set()
        for index, row in enumerate(self.workbook.get("choices") or []):
            if not row:
                continue
            where = f"choices row {index + 2}"
            list_name, value = row.get("list_name"), row.get("name")
            if not list_name or value is None:
                self.note(f"{where}: needs list_name and name")
                continue
            lists.setdefault(list_name.strip(), []).append(
                {"value": value, "label": self._labels(row, where) or {self._fallback(): value}}
            )
            extra.update(h for h in row if h.partition("::")[0].casefold() not in _CHOICE_COLS)
        for header in sorted(extra):
            self.note(f"choices: column {header!r} not converted")
        return lists

    # --- survey ---------------------------------------------------------------------------

    def _questions(self) -> list[dict]:
        questions: list[dict] = []
        stack: list[_Group] = []
        extra: set[str] = set()
        for index, row in enumerate(self.workbook["survey"]):
            if not row:
                continue
            where = f"survey row {index + 2}"
            extra.update(h for h in row if h.partition("::")[0].casefold() not in SURVEY_COLUMNS)
            raw_type = " ".join((row.get("type") or "").split())
            kind = raw_type.casefold()
            name = row.get("name") or ""
            if self._structure(kind, name, row, where, stack):
                continue
            if any(g.kind == "repeat" for g in stack):
                self.note(f"{where} ({name}): inside a repeat, not converted")
                continue
            question = self._question(raw_type, name, row, where, stack)
            if question is not None:
                questions.append(question)
        for group in stack:
            self.note(f"survey: {group.kind} {group.name!r} is never closed")
        for header in sorted(extra):
            self.note(f"survey: column {header!r} not converted")
        return questions

    def _structure(self, kind: str, name: str, row: dict, where: str, stack: list[_Group]) -> bool:
        """Handle group/repeat rows; True when the row was one."""
        if kind in GROUP_BEGIN:
            when = self._when(row, f"{where} ({name})") if row.get("relevant") else None
            self.note(f"{where} ({name}): group flattened, its questions are asked in order")
            stack.append(_Group("group", name, when))
            return True
        if kind in REPEAT_BEGIN:
            self.note(f"{where} ({name}): repeat not converted, nor the questions in it")
            stack.append(_Group("repeat", name, None))
            return True
        if kind in GROUP_END + REPEAT_END:
            wanted = "group" if kind in GROUP_END else "repeat"
            if stack and stack[-1].kind == wanted:
                stack.pop()
            else:
                self.note(f"{where}: 'end {wanted}' without a matching begin")
            return True
        return False

    def _question(
        self, raw_type: str, name: str, row: dict, where: str, stack: list[_Group]
    ) -> dict | None:
        what = f"{where} ({name})" if name else where
        kind = raw_type.casefold()
        parts = raw_type.split()
        base = " ".join(parts[:-1]).casefold() if len(parts) > 1 else raw_type.casefold()
        question: dict
        if base in SELECT_ONE or base in SELECT_MULTIPLE:
            question = self._select(parts, base, what)
            if not question:
                return None
        elif kind in NUMBER_TYPES:
            question = {"type": "number", **self._bounds(row.get("constraint"), kind, what)}
        elif kind == "range":
            question = self._range(row.get("parameters") or "", what)
        elif kind in ("text", "string"):
            question = {"type": "text"}
        elif kind == "note":
            self.note(f"{what}: note not converted (display only, nothing to answer)")
            return None
        else:
            self.note(f"{what}: type {raw_type or '(empty)'!r} not converted")
            return None
        if kind not in NUMBER_TYPES and row.get("constraint"):
            self.note(f"{what}: constraint {row['constraint']!r} not converted")

        key = self._key(name, what)
        if key is None:
            return None
        labels = self._labels(row, what)
        if not labels:
            self.note(f"{what}: has no label")
        question = {"key": key, "type": question.pop("type"), "prompt": labels, **question}
        required = _truthy(row.get("required"))
        if required is None:
            self.note(f"{what}: required {row['required']!r} not converted; asked as optional")
        question["required"] = bool(required)
        when = self._combined_when(row, what, stack)
        if when:
            question["when"] = when
        self.keys[name] = key
        return question

    def _select(self, parts: list[str], base: str, what: str) -> dict:
        list_name = parts[-1] if len(parts) > 1 else ""
        if list_name.casefold() == "or_other":
            self.note(f"{what}: 'or_other' not converted")
            parts = parts[:-1]
            list_name = parts[-1] if len(parts) > 1 else ""
        choices = self.choice_lists.get(list_name)
        if not choices:
            self.note(f"{what}: choice list {list_name!r} not found in the choices sheet")
            return {}
        qtype = "choice" if base in SELECT_ONE else "multi_choice"
        return {"type": qtype, "choices": [dict(c) for c in choices]}

    def _key(self, name: str, what: str) -> str | None:
        if not name:
            self.note(f"{what}: has no name")
            return None
        key = re.sub(r"[^A-Za-z0-9_]", "_", name)
        if not re.match(r"[A-Za-z_]", key) or key in ("and", "or", "not", "in"):
            key = f"q_{key}"
        if key in self.keys.values():
            self.note(f"{what}: name {name!r} repeats an earlier question")
            return None
        if key != name:
            self.note(f"{what}: name {name!r} renamed to {key!r}")
        return key

    def _range(self, parameters: str, what: str) -> dict:
        params = dict(re.findall(r"(\w+)\s*=\s*(-?\d+(?:\.\d+)?)", parameters))
        start, end, step = (params.get(k) for k in ("start", "end", "step"))
        if (start, end, step or "1") == ("1", "5", "1"):
            return {"type": "rating"}
        if step not in (None, "1"):
            self.note(f"{what}: range step {step} not converted")
        bounds = {"min": float(start), "max": float(end)} if start and end else {}
        return {"type": "number", **{k: _tidy(v) for k, v in bounds.items()}}

    def _bounds(self, constraint: str | None, raw_type: str, what: str) -> dict:
        if not constraint:
            return {}
        bounds = _constraint_bounds(constraint, whole=raw_type != "decimal")
        if bounds is None:
            self.note(
                f"{what}: constraint {constraint!r} not converted "
                "(only '. >= a and . <= b' style limits are)"
            )
            return {}
        return bounds

    # --- relevant -------------------------------------------------------------------------

    def _when(self, row: dict, what: str) -> str | None:
        relevant = row.get("relevant") or ""
        try:
            return relevant_to_when(relevant, self.keys)
        except ValueError as error:
            self.note(f"{what}: relevant {relevant!r} not converted ({error})")
            return None

    def _combined_when(self, row: dict, what: str, stack: list[_Group]) -> str | None:
        conditions = [g.when for g in stack if g.when]
        if row.get("relevant"):
            own = self._when(row, what)
            if own is None:
                self.note(f"{what}: asked without its condition")
            else:
                conditions.append(own)
        if len(conditions) <= 1:
            return conditions[0] if conditions else None
        return " and ".join(f"({c})" for c in conditions)


_CHOICE_COLS = ("list_name", "name", "label")


def _tidy(number: float) -> int | float:
    return int(number) if float(number).is_integer() else number


_BOUND_RE = re.compile(r"^\.\s*(>=|>|<=|<)\s*(-?\d+(?:\.\d+)?)$")
_BOUND_REVERSED_RE = re.compile(r"^(-?\d+(?:\.\d+)?)\s*(>=|>|<=|<)\s*\.$")
_FLIP = {">=": "<=", ">": "<", "<=": ">=", "<": ">"}


def _constraint_bounds(constraint: str, *, whole: bool) -> dict | None:
    """`. >= 0 and . <= 365` -> {"min": 0, "max": 365}; None when not that simple."""
    bounds: dict[str, float] = {}
    for clause in re.split(r"\s+and\s+", constraint.strip()):
        clause = clause.strip()
        while clause.startswith("(") and clause.endswith(")"):
            clause = clause[1:-1].strip()
        match = _BOUND_RE.match(clause)
        if match:
            op, number = match.group(1), float(match.group(2))
        else:
            match = _BOUND_REVERSED_RE.match(clause)
            if not match:
                return None
            op, number = _FLIP[match.group(2)], float(match.group(1))
        if op in (">", "<"):
            # A strict limit is an inclusive one only for whole numbers.
            if not (whole and number.is_integer()):
                return None
            number = number + 1 if op == ">" else number - 1
        side = "min" if op.startswith(">") else "max"
        current = bounds.get(side)
        bounds[side] = (
            number
            if current is None
            else (max(current, number) if side == "min" else min(current, number))
        )
    return {k: _tidy(v) for k, v in bounds.items()}


# --- relevant -> when ---------------------------------------------------------------------

_XPATH_TOKEN_RE = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<ref>\$\{\s*([^}\s]+)\s*\})
  | (?P<string>'[^']*'|"[^"]*")
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<op>!=|<=|>=|=|<|>)
  | (?P<punct>[(),])
  | (?P<word>[A-Za-z_][A-Za-z0-9_:.-]*)
    """,
    re.VERBOSE,
)


def _xpath_tokens(relevant: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(relevant):
        match = _XPATH_TOKEN_RE.match(relevant, pos)
        if match is None:
            raise ValueError(f"{relevant[pos]!r} is not supported")
        kind = match.lastgroup or ""
        if kind == "ref":
            tokens.append(("ref", match.group(3)))
        elif kind != "space":
            tokens.append((kind, match.group()))
        pos = match.end()
    return tokens


def _literal(text: str) -> str:
    inner = text[1:-1]
    if inner == "":
        # In XLSForm an unanswered question is the empty string.
        return "null"
    return f"'{inner}'" if "'" not in inner else f'"{inner}"'


def relevant_to_when(relevant: str, keys: dict[str, str]) -> str:
    """Translate an XLSForm `relevant` into a `when:`; ValueError says why it can't be.

    Covers `${q} = 'x'`, comparisons with numbers, `selected(${q}, 'x')`, and/or/not(),
    parentheses and `''` (unanswered). `keys` maps earlier XLSForm names to our keys.
    """
    tokens = _xpath_tokens(relevant)
    out: list[str] = []
    index = 0

    def ref(name: str) -> str:
        if name not in keys:
            raise ValueError(f"${{{name}}} is not an earlier converted question")
        return keys[name]

    while index < len(tokens):
        kind, text = tokens[index]
        following = tokens[index + 1 : index + 6]
        if kind == "ref":
            out.append(ref(text))
        elif kind == "string":
            out.append(_literal(text))
        elif kind in ("number", "punct") and text != ",":
            out.append(text)
        elif kind == "op":
            out.append("==" if text == "=" else text)
        elif kind == "word" and text in ("and", "or"):
            out.append(text)
        elif kind == "word" and text == "not" and following[:1] == [("punct", "(")]:
            out.append("not")
        elif (
            kind == "word"
            and text in ("true", "false")
            and following[:2]
            == [
                ("punct", "("),
                ("punct", ")"),
            ]
        ):
            out.append(text)
            index += 2
        elif kind == "word" and text == "selected" and _is_selected_call(following):
            out.append(f"{_literal(following[3][1])} in {ref(following[1][1])}")
            index += 5
        elif kind == "word":
            raise ValueError(f"{text!r} is not supported")
        else:
            raise ValueError(f"{text!r} is not supported here")
        index += 1
    when = " ".join(out).replace("( ", "(").replace(" )", ")")
    try:
        parse_condition(when)
    except ConditionError as error:
        raise ValueError(error.message) from error
    return when


def _is_selected_call(tokens: list[tuple[str, str]]) -> bool:
    shape = [kind for kind, _ in tokens]
    return (
        shape == ["punct", "ref", "punct", "string", "punct"]
        and tokens[0][1] == "("
        and tokens[2][1] == ","
        and tokens[4][1] == ")"
    )
