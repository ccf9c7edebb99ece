"""Poll results as numbers: counts per choice, numbers, disaggregation, response over time.

Shared by the results page and the printable report, so both always say the same thing.
Small cells are suppressed here, not in templates: a count of 1 to 4 people of one gender
in one village can identify them (Copenhagen Framework on Citizen Data: privacy), so such
a cell is never handed to a template at all.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from statistics import median
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from bot.flows.poll_format import CHOICE_TYPES, PollDefinition, QuestionDef, localised
from storage import models as m

MIN_CELL = 5
DIMENSIONS = ("gender", "age_band", "disability", "village")
NOT_STATED = "not stated"
_PHONE_LIKE = re.compile(r"\+?\d[\d\s-]{5,}\d")


@dataclass(frozen=True)
class AnswerRow:
    session_id: int
    question_key: str
    value: Any
    language: str | None
    created_at: datetime
    profile: dict[str, str | None]


@dataclass(frozen=True)
class Table:
    """A disaggregation: one row per group, one column per option; None means suppressed."""

    dimension: str
    columns: list[str]
    rows: list[tuple[str, list[int | None], int | None]] = field(default_factory=list)
    suppressed: int = 0


def suppress(count: int) -> int | None:
    return None if 0 < count < MIN_CELL else count


def load_answers(session: so.Session, poll_id: int) -> list[AnswerRow]:
    """Every answered (not skipped) question of every version of the poll."""
    p = m.Participant
    query = (
        sa.select(
            m.Answer.session_id,
            m.Answer.question_key,
            m.Answer.value,
            m.Answer.language,
            m.Answer.created_at,
            p.gender,
            p.age_band,
            p.disability,
            p.village,
        )
        .join(m.PollVersion, m.PollVersion.id == m.Answer.poll_version_id)
        .join(p, p.id == m.Answer.participant_id)
        .where(m.PollVersion.poll_id == poll_id, m.Answer.status == "answered")
        .order_by(m.Answer.created_at, m.Answer.id)
    )
    return [
        AnswerRow(
            row.session_id,
            row.question_key,
            row.value,
            row.language,
            row.created_at,
            {
                "gender": row.gender,
                "age_band": row.age_band,
                "disability": row.disability,
                "village": row.village,
            },
        )
        for row in session.execute(query)
    ]


def for_question(rows: Iterable[AnswerRow], key: str) -> list[AnswerRow]:
    return [row for row in rows if row.question_key == key]


def _picked(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    return [] if value is None else [str(value)]


def choice_columns(question: QuestionDef, defn: PollDefinition) -> list[tuple[str, str]]:
    """(value, label) pairs in the poll's first language; ratings are 1..5."""
    if question.type == "rating":
        return [(str(n), str(n)) for n in range(1, 6)]
    return [
        (c.value, localised(c.label, defn.languages[0], defn.languages)) for c in question.choices
    ]


def choice_counts(
    question: QuestionDef, defn: PollDefinition, rows: Sequence[AnswerRow]
) -> list[tuple[str, int]]:
    counter: Counter[str] = Counter()
    for row in rows:
        counter.update(_picked(_rating_key(row.value) if question.type == "rating" else row.value))
    return [(label, counter[value]) for value, label in choice_columns(question, defn)]


def _rating_key(value: Any) -> Any:
    return str(int(value)) if isinstance(value, int | float) else value


def numbers(rows: Sequence[AnswerRow]) -> list[float]:
    return [
        float(r.value)
        for r in rows
        if isinstance(r.value, int | float) and not isinstance(r.value, bool)
    ]


def disaggregate(
    question: QuestionDef, defn: PollDefinition, rows: Sequence[AnswerRow], dimension: str
) -> Table:
    """Counts per group (choices) or n and median (numbers), small cells suppressed."""
    groups: dict[str, list[AnswerRow]] = defaultdict(list)
    for row in rows:
        groups[row.profile.get(dimension) or NOT_STATED].append(row)
    if question.type in (*CHOICE_TYPES, "rating"):
        return _choice_table(question, defn, groups, dimension)
    return _number_table(groups, dimension)


def _choice_table(question, defn, groups, dimension) -> Table:
    columns = choice_columns(question, defn)
    table_rows, hidden = [], 0
    for name in sorted(groups):
        counter: Counter[str] = Counter()
        for row in groups[name]:
            value = _rating_key(row.value) if question.type == "rating" else row.value
            counter.update(_picked(value))
        cells = [suppress(counter[value]) for value, _ in columns]
        hidden += sum(1 for cell in cells if cell is None)
        table_rows.append((name, cells, suppress(len(groups[name]))))
    return Table(dimension, [label for _, label in columns], table_rows, hidden)


def _number_table(groups, dimension) -> Table:
    table_rows, hidden = [], 0
    for name in sorted(groups):
        values = numbers(groups[name])
        n = len(values)
        if 0 < n < MIN_CELL:
            hidden += 1
            table_rows.append((name, [None], None))
            continue
        middle = median(values) if values else 0
        table_rows.append(
            (name, [int(middle) if float(middle).is_integer() else round(middle, 1)], n)
        )
    return Table(dimension, ["median"], table_rows, hidden)


def mask_phone_numbers(text: str) -> str:
    """Hide numbers that look like phone numbers, keeping the first two and last two digits,
    so an analyst can read a free-text answer without learning who to call."""

    def hide(match: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", match.group())
        if len(digits) < 7:
            return match.group()
        return digits[:2] + "•" * (len(digits) - 4) + digits[-2:]

    return _PHONE_LIKE.sub(hide, text)


@dataclass(frozen=True)
class Reach:
    reached: int
    responded: int
    completed: int
    first_answer: datetime | None
    last_answer: datetime | None
    by_day: list[tuple[date, int]]  # sessions whose first answer fell on that day

    @property
    def rate(self) -> float:
        return 100.0 * self.responded / self.reached if self.reached else 0.0

    def cumulative_rate(self) -> list[tuple[str, float]]:
        total, points = 0, []
        for day, count in self.by_day:
            total += count
            rate = 100.0 * total / self.reached if self.reached else 0.0
            points.append((day.isoformat(), round(rate, 1)))
        return points


def reach(session: so.Session, poll_id: int, rows: Sequence[AnswerRow]) -> Reach:
    """Who was asked (launch sessions) against who answered at least once."""
    s = m.ConversationSession
    launched = (
        sa.select(s.id, s.status)
        .join(m.PollVersion, m.PollVersion.id == s.poll_version_id)
        .where(m.PollVersion.poll_id == poll_id)
    )
    statuses = Counter(status for _, status in session.execute(launched))
    first: dict[int, datetime] = {}
    for row in rows:
        first.setdefault(row.session_id, row.created_at)
    days = Counter(when.date() for when in first.values())
    return Reach(
        reached=sum(statuses.values()),
        responded=len(first),
        completed=statuses.get("completed", 0),
        first_answer=min(first.values(), default=None),
        last_answer=max((r.created_at for r in rows), default=None),
        by_day=sorted(days.items()),
    )
