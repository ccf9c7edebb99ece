"""Poll results as numbers: counts per choice, numbers, disaggregation, response over time.

Shared by the results page and the printable report, so both always say the same thing.
Small cells are suppressed here, not in templates: a count of 1 to 4 people of one gender
in one village can identify them (Copenhagen Framework on Citizen Data: privacy), so such
a cell is never handed to a template at all. Because each table also shows its totals (the
n column, the chart's bar per option, the question's answer count), a lone hidden cell
could be worked out by subtraction; `complementary_suppression` hides what else it takes
(statistical offices' secondary suppression) so it cannot.
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


Cell = tuple[int, int]  # (row, column) in a table


@dataclass(frozen=True)
class Table:
    """A disaggregation: one row per group, one column per option; None means suppressed.

    `suppressed` counts the small cells (1 to MIN_CELL - 1);
    `complementary` holds the (row, column) of larger cells hidden only so that a small one
    cannot be worked out from the totals (column `len(columns)` is the n column). Both are
    None in `rows` and shown with one marker, so a reader cannot tell which hidden cell is
    the small one;
    `hidden_totals` the options whose chart bar must be hidden for the same reason. A
    `withheld` table could not be protected without hiding the answer count itself, so
    none of its rows are shown.
    """

    dimension: str
    columns: list[str]
    rows: list[tuple[str, list[int | None], int | None]] = field(default_factory=list)
    suppressed: int = 0
    complementary: frozenset[Cell] = frozenset()
    hidden_totals: frozenset[int] = frozenset()
    withheld: bool = False


def suppress(count: int) -> int | None:
    return None if 0 < count < MIN_CELL else count


def complementary_suppression(
    counts: Sequence[Sequence[int]],
    primary: Iterable[Cell] | None = None,
    *,
    row_totals: bool = True,
    column_totals: bool = True,
) -> frozenset[Cell]:
    """Which cells of a table with published totals to hide, so no hidden one can be derived.

    Hiding a cell of 1 to 4 people is not enough when the table's totals are shown: "total
    23, the others 10 and 11" gives the hidden cell away (2). Statistical offices therefore
    apply secondary (complementary) suppression, and so does this: while a row or column
    whose total is published has exactly one hidden non-zero entry, its smallest visible
    non-zero entry is hidden too (the total itself when nothing else is left). A hidden
    zero protects nothing, since zeros are never small cells, and a zero is never hidden.

    `counts` is the table as published, margins included: with `row_totals` each row's
    last entry is that row's total; with `column_totals` the last row holds the column
    totals (with both, its last entry is the grand total). Totals are cells like any other,
    so "suppress the total" is one of the answers. `primary` are the cells hidden for being
    small (by default every entry from 1 to MIN_CELL - 1). Returns those and the
    complementary cells; lines are visited in a fixed order and ties broken by position, so
    the same table always gives the same answer.
    """
    height = len(counts)
    width = len(counts[0]) if height else 0
    if primary is None:
        primary = [
            (r, c) for r in range(height) for c in range(width) if 0 < counts[r][c] < MIN_CELL
        ]
    hidden = set(primary)
    lines: list[list[Cell]] = []
    if row_totals:
        lines += [[(r, c) for c in range(width)] for r in range(height)]
    if column_totals:
        lines += [[(r, c) for r in range(height)] for c in range(width)]
    lines_of: dict[Cell, list[int]] = defaultdict(list)
    for index, line in enumerate(lines):
        for cell in line:
            lines_of[cell].append(index)

    def value(cell: Cell) -> int:
        return counts[cell[0]][cell[1]]

    # how many hidden non-zero entries each line has: exactly one can be derived
    protected = [sum(1 for cell in line if cell in hidden and value(cell) > 0) for line in lines]

    def is_total(cell: Cell) -> bool:
        return (row_totals and cell[1] == width - 1) or (column_totals and cell[0] == height - 1)

    def key(cell: Cell, line: int) -> tuple[int, bool, bool, Cell]:
        # Smallest first; among equals one that also protects another line with a lone
        # hidden entry, then an inner cell before a total, then the first by position.
        also = any(protected[other] == 1 for other in lines_of[cell] if other != line)
        return (value(cell), not also, is_total(cell), cell)

    changed = True
    while changed:
        changed = False
        for index, line in enumerate(lines):
            if protected[index] != 1:
                continue
            candidates = [cell for cell in line if cell not in hidden and value(cell) > 0]
            if not candidates:
                continue  # only when the totals do not add up, i.e. nothing can be derived
            pick = min(key(cell, index) for cell in candidates)[-1]
            hidden.add(pick)
            for other in lines_of[pick]:
                protected[other] += 1
            changed = True
    return frozenset(hidden)


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
    question: QuestionDef,
    defn: PollDefinition,
    rows: Sequence[AnswerRow],
    dimension: str,
    *,
    hidden_totals: Iterable[int] = (),
) -> Table:
    """Counts per group (choices) or n and median (numbers), small cells suppressed and
    the cells that would give them away hidden too. `hidden_totals`: options whose chart
    bar is already hidden (another dimension's table needed it)."""
    groups: dict[str, list[AnswerRow]] = defaultdict(list)
    for row in rows:
        groups[row.profile.get(dimension) or NOT_STATED].append(row)
    if question.type in (*CHOICE_TYPES, "rating"):
        return _choice_table(question, defn, groups, dimension, frozenset(hidden_totals))
    return _number_table(groups, dimension)


def disaggregations(
    question: QuestionDef, defn: PollDefinition, rows: Sequence[AnswerRow]
) -> tuple[list[Table], frozenset[int]]:
    """Every dimension's table, and the options whose chart bar must be hidden.

    The chart's bars are the column totals of every table at once, so a bar one table
    hides is hidden for all of them: recomputed until no table asks for another.
    """
    hidden: frozenset[int] = frozenset()
    while True:
        tables = [disaggregate(question, defn, rows, d, hidden_totals=hidden) for d in DIMENSIONS]
        wanted = hidden.union(*(t.hidden_totals for t in tables))
        if wanted == hidden:
            break
        hidden = wanted
    if all(t.withheld or len(t.rows) < 2 for t in tables):
        hidden = frozenset()  # no table left to subtract from: the bars are overall counts
    return tables, hidden


def _protect(
    grid: list[list[int]], primary: set[Cell], *, row_totals: bool
) -> tuple[frozenset[Cell], frozenset[int]] | None:
    """The complementary cells among the groups' rows and the bars to hide, or None when
    the table must be withheld.

    `grid` is the groups' rows plus a last row of column totals ending in the answer count.
    That count is always shown, so when the only protection left is hiding it, no row of
    the table is shown instead. A table of a single group repeats the chart, which
    publishes overall counts: it hides only what the chart hides (besides its own small
    cells).
    """
    last, width = len(grid) - 1, len(grid[0])
    if last < 2:
        return frozenset((0, c) for r, c in primary if r == last == 1) - primary, frozenset()
    hidden = complementary_suppression(grid, primary, row_totals=row_totals)
    if (last, width - 1) in hidden:
        return None
    inner = frozenset(cell for cell in hidden - primary if cell[0] < last)
    return inner, frozenset(c for r, c in hidden if r == last and c < width - 1)


def _choice_table(question, defn, groups, dimension, hidden_totals: frozenset[int]) -> Table:
    columns = choice_columns(question, defn)
    labels = [label for _, label in columns]
    names = sorted(groups)
    grid: list[list[int]] = []
    for name in names:
        counter: Counter[str] = Counter()
        for row in groups[name]:
            value = _rating_key(row.value) if question.type == "rating" else row.value
            counter.update(_picked(value))
        grid.append([counter[value] for value, _ in columns] + [len(groups[name])])
    totals = [sum(row[c] for row in grid) for c in range(len(columns) + 1)]
    primary = {
        (r, c)
        for r, row in enumerate(grid)
        for c, count in enumerate(row)
        if suppress(count) is None
    }
    small = sum(1 for r, c in primary if c < len(columns))
    primary |= {(len(grid), c) for c in hidden_totals if c < len(columns)}
    found = _protect([*grid, totals], primary, row_totals=True)
    if found is None:
        return Table(dimension, labels, [], small, withheld=True)
    complementary, bars = found
    gone = primary | complementary
    table_rows = [
        (
            name,
            [None if (r, c) in gone else grid[r][c] for c in range(len(columns))],
            None if (r, len(columns)) in gone else grid[r][len(columns)],
        )
        for r, name in enumerate(names)
    ]
    return Table(dimension, labels, table_rows, small, complementary, bars)


def _number_table(groups, dimension) -> Table:
    names = sorted(groups)
    sizes = [len(numbers(groups[name])) for name in names]
    primary = {(r, 0) for r, n in enumerate(sizes) if 0 < n < MIN_CELL}
    grid = [[n] for n in sizes] + [[sum(sizes)]]
    found = _protect(grid, primary, row_totals=False)
    if found is None:
        return Table(dimension, ["median"], [], len(primary), withheld=True)
    # A group whose n is hidden only to protect another keeps its median: a median says
    # nothing about how many answered. The n column is column 1 for the template.
    complementary = frozenset((r, 1) for r, _ in found[0])
    table_rows = []
    for r, name in enumerate(names):
        if (r, 0) in primary:
            table_rows.append((name, [None], None))
            continue
        values = numbers(groups[name])
        middle = median(values) if values else 0
        shown = int(middle) if float(middle).is_integer() else round(middle, 1)
        table_rows.append((name, [shown], None if (r, 1) in complementary else sizes[r]))
    return Table(dimension, ["median"], table_rows, len(primary), complementary)


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
