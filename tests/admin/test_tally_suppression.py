"""Complementary (secondary) small-cell suppression: with the totals shown, no hidden cell can
be worked out by subtraction, on its own, through the results page, or on the scorecard."""

from __future__ import annotations

import re
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from admin import scorecard
from admin.tally import MIN_CELL, complementary_suppression
from tests.admin.polls_seed import poll_id, seed_answers, seed_participants


def _margins(body: list[list[int]]) -> list[list[int]]:
    """The table as published: each row with its total, then the column totals."""
    rows = [[*row, sum(row)] for row in body]
    return [*rows, [sum(column) for column in zip(*rows, strict=True)]]


def _lines(height: int, width: int, *, row_totals: bool = True, column_totals: bool = True):
    lines = []
    if row_totals:
        lines += [[(r, c) for c in range(width)] for r in range(height)]
    if column_totals:
        lines += [[(r, c) for r in range(height)] for c in range(width)]
    return lines


def _derivable(counts, hidden, lines) -> set[tuple[int, int]]:
    """What an attacker recovers by subtracting, one line at a time, until nothing new."""
    known: set[tuple[int, int]] = set()
    while True:
        found = set()
        for line in lines:
            unknown = [cell for cell in line if cell in hidden and cell not in known]
            if len(unknown) == 1:
                found.add(unknown[0])
        if not found:
            return known
        known |= found


# --- the pure function --------------------------------------------------------------------


def test_a_lone_small_cell_in_a_row_hides_the_next_smallest():
    # "total 23, others 10 and 11": the hidden 2 would be 23 - 10 - 11
    counts = [[2, 10, 11, 23]]
    assert complementary_suppression(counts, column_totals=False) == {(0, 0), (0, 1)}


def test_a_lone_small_cell_in_a_column_hides_the_next_smallest():
    counts = [[2], [11], [10], [23]]
    assert complementary_suppression(counts, row_totals=False) == {(0, 0), (2, 0)}


def test_hiding_cascades_until_every_line_is_protected():
    counts = _margins([[2, 10], [7, 8]])  # [[2, 10, 12], [7, 8, 15], [9, 18, 27]]
    hidden = complementary_suppression(counts)
    # the 10 protects the 2 in its row, the 7 in its column; then the 10's column and the
    # 7's row each have one hidden cell, and the 8 closes both
    assert hidden == {(0, 0), (0, 1), (1, 0), (1, 1)}
    assert not _derivable(counts, hidden, _lines(3, 3))


def test_the_total_is_hidden_when_nothing_else_can_protect():
    counts = [[0, 3, 3], [5, 0, 5], [5, 3, 8]]  # the 3 is alone in its column but for a zero
    hidden = complementary_suppression(counts)
    assert (2, 1) in hidden  # its column total
    assert not _derivable(counts, hidden, _lines(3, 3))


def test_zero_cells_never_protect_and_are_never_hidden():
    counts = [[2, 0, 9, 11]]
    assert complementary_suppression(counts, column_totals=False) == {(0, 0), (0, 2)}
    # a zero hidden by the caller does not count as the second hidden cell
    hidden = complementary_suppression(counts, {(0, 0), (0, 1)}, column_totals=False)
    assert hidden == {(0, 0), (0, 1), (0, 2)}


def test_safe_tables_are_unchanged():
    assert complementary_suppression(_margins([[5, 6], [7, 8]])) == frozenset()
    counts = _margins([[2, 3, 9], [3, 2, 9], [6, 6, 6]])
    primary = {(0, 0), (0, 1), (1, 0), (1, 1)}
    assert complementary_suppression(counts) == primary
    assert complementary_suppression(_margins([[0, 0], [0, 0]])) == frozenset()


def test_the_same_table_always_gives_the_same_cells():
    counts = _margins([[2, 9, 9, 6], [9, 2, 6, 9], [6, 6, 1, 20]])
    assert len({complementary_suppression(counts) for _ in range(5)}) == 1


_bodies = st.integers(1, 5).flatmap(
    lambda width: st.lists(
        st.lists(st.integers(0, 12), min_size=width, max_size=width), min_size=1, max_size=6
    )
)


@settings(max_examples=300, deadline=None)
@given(body=_bodies, row_totals=st.booleans(), column_totals=st.booleans())
def test_no_published_line_is_left_with_one_hidden_cell(body, row_totals, column_totals):
    counts = [list(row) for row in body]
    if row_totals:
        counts = [[*row, sum(row)] for row in counts]
    if column_totals:
        counts.append([sum(column) for column in zip(*counts, strict=True)])
    height, width = len(counts), len(counts[0])
    primary = {(r, c) for r in range(height) for c in range(width) if 0 < counts[r][c] < MIN_CELL}
    hidden = complementary_suppression(counts, row_totals=row_totals, column_totals=column_totals)
    assert primary <= hidden
    assert all(counts[r][c] > 0 for r, c in hidden)
    lines = _lines(height, width, row_totals=row_totals, column_totals=column_totals)
    for line in lines:
        assert len([cell for cell in line if cell in hidden]) != 1, (counts, sorted(hidden))
    assert not _derivable(counts, hidden, lines)


# --- through the results page -------------------------------------------------------------


def _table(html: str, dimension: str) -> list[tuple[list[int | None], int | None]]:
    table = re.search(rf"<caption>By {dimension}.*?</table>", html, re.S).group()
    rows = []
    for row in re.findall(r"<tr><th scope=\"row\">.*?</tr>", table, re.S):
        cells = [None if "<abbr" in td else int(td) for td in re.findall(r"<td>(.*?)</td>", row)]
        rows.append((cells[:-1], cells[-1]))
    return rows


def _bars(html: str, labels: tuple[str, ...]) -> list[int | None]:
    found = [re.search(rf"<title>{label}: (\d+)</title>", html) for label in labels]
    return [int(match.group(1)) if match else None for match in found]


def _works(client, db, organisation) -> str:
    html = client.get(f"/polls/{poll_id(db, organisation.id)}/results").get_data(as_text=True)
    return html[html.index('id="question-works"') : html.index('id="question-days_broken"')]


def _assert_nothing_to_subtract(rows, bars, answers: int) -> None:
    """Every row adds up to its n, every column to its chart bar, the n column to the
    question's answer count: none of them may have exactly one hidden entry."""
    grid = [[*cells, n] for cells, n in rows] + [[*bars, answers]]
    hidden = {(r, c) for r, row in enumerate(grid) for c, v in enumerate(row) if v is None}
    for line in _lines(len(grid), len(grid[0])):
        assert len([cell for cell in line if cell in hidden]) != 1, (grid, line)


def _seed(db, organisation, women: tuple[int, int], men: tuple[int, int]) -> None:
    for start, gender, (yes, no) in ((0, "female", women), (50, "male", men)):
        people = seed_participants(db, organisation.id, yes + no, start=start, gender=gender)
        seed_answers(db, organisation.id, "water-point", people[:yes], {"works": "yes"})
        seed_answers(db, organisation.id, "water-point", people[yes:], {"works": "no"})


def test_results_page_leaves_no_cell_to_work_out(login_as, organisation, db):
    _seed(db, organisation, women=(7, 6), men=(2, 8))
    works = _works(login_as(organisation.id, "analyst"), db, organisation)
    assert "23 answers" in works
    bars = _bars(works, ("Yes", "No"))
    assert bars == [9, 14]  # the overall counts are still shown
    female, male = rows = _table(works, "gender")
    # without complementary suppression: women 7 | 6 | 13, men <5 | 8 | 10, and the 2 men
    # who said yes were 10 - 8, or 9 - 7; now the cells that would give them away are hidden
    assert male == ([None, None], 10) and female == ([None, None], 13)
    # One marker for the small cell and its complements: which one is the 2 stays unknown.
    assert works.count('class="hidden-cell"') >= 4 and "&lt;5" not in works
    assert "3 more cells hidden so that they cannot be worked out" in works
    _assert_nothing_to_subtract(rows, bars, 23)


def test_a_chart_bar_is_hidden_when_it_would_give_a_group_away(login_as, organisation, db):
    _seed(db, organisation, women=(0, 12), men=(3, 6))
    works = _works(login_as(organisation.id), db, organisation)
    # only men said yes: the bar "Yes: 3" minus the women's 0 would be the 3 men
    bars = _bars(works, ("Yes", "No"))
    assert bars[0] is None and "<title>Yes: 3</title>" not in works
    rows = _table(works, "gender")
    assert rows[1][0][0] is None
    _assert_nothing_to_subtract(rows, bars, 21)
    # everyone is in one village: that table's row is the chart, and hides what it hides
    assert _table(works, "village") == [([None, None], 21)]


# --- the public scorecard ------------------------------------------------------------------


def test_scorecard_share_hidden_when_it_gives_a_small_group_away():
    def safe(responses: int, yes: int) -> bool:
        latest = SimpleNamespace(responses=responses, yes_share=round(yes / responses, 4))
        return scorecard._share_is_safe(latest)

    assert safe(6, 6) and safe(6, 0) and safe(10, 5) and safe(40, 21)
    assert not safe(6, 1)  # "17% of 6": one said done
    assert not safe(6, 5)  # "83% of 6": one did not
    assert not safe(23, 20)
