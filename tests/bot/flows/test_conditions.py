import pytest

from bot.flows.conditions import MAX_DEPTH, MAX_LENGTH, ConditionError, parse_condition

ANSWERS = {
    "works": "no",
    "days": 12,
    "days_text": "12",
    "needs": ["water", "school"],
    "village": "Ngiluni",
    "skipped": None,
    "flag": True,
}


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("works == 'no'", True),
        ('works == "no"', True),
        ("works == 'yes'", False),
        ("works != 'yes'", True),
        ("days > 10", True),
        ("days >= 12", True),
        ("days < 12", False),
        ("days <= 12.0", True),
        ("days_text > 10", True),  # numeric text compares as a number
        ("days == '12'", True),
        ("village > 10", False),  # text vs number: a mismatch is False, not an error
        ("works < 3", False),
        ("works in ['no', 'partly']", True),
        ("works not in ['no', 'partly']", False),
        ("'water' in needs", True),
        ("'food' in needs", False),
        ("'food' not in needs", True),
        ("needs in ['food', 'school']", True),  # any selected value listed
        ("needs in ['food']", False),
        ("'no' in works", True),  # a single answer contains only itself
        ("days in [1, 12]", True),
        ("missing == null", True),
        ("skipped == null", True),
        ("works == null", False),
        ("works != null", True),
        ("skipped > 3", False),
        ("'x' in skipped", False),
        ("'x' not in skipped", True),
        ("flag == true", True),
        ("flag == 1", False),  # booleans are not numbers
        ("true", True),
        ("false", False),
        ("works == 'no' and days > 10", True),
        ("works == 'no' and days > 20", False),
        ("works == 'yes' or days > 10", True),
        ("not works == 'yes'", True),
        ("not (works == 'no' or days > 1)", False),
        ("(works == 'no') and ('water' in needs or 'food' in needs)", True),
        ("works == 'no' or works == 'yes' and days > 99", True),  # and binds tighter
    ],
)
def test_evaluate(expr, expected):
    assert parse_condition(expr).evaluate(ANSWERS) is expected


@pytest.mark.parametrize(
    ("expr", "position"),
    [
        ("__import__('os')", 0),
        ("works.upper() == 'NO'", 5),
        ("open('/etc/passwd')", 0),
        ("works[0] == 'n'", 5),
        ("works", 5),
        ("works == ", 9),
        ("works = 'no'", 6),
        ("works == 'no", 9),
        ("1 + 1 == 2", 2),
        ("days == 1 == 1", 10),
        ("(works == 'no'", 14),
        ("works == 'no')", 13),
        ("'a' in ['a', works]", 13),
        ("works not 'no'", 10),
        ("", 0),
        ("lambda: 1", 6),
        ("(works == 'no') == true", 16),
    ],
)
def test_rejects_with_position(expr, position):
    with pytest.raises(ConditionError) as caught:
        parse_condition(expr)
    assert caught.value.position == position
    assert str(position) in str(caught.value)


def test_rejects_long_input():
    expr = " or ".join(["works == 'no'"] * 40)
    assert len(expr) > MAX_LENGTH
    with pytest.raises(ConditionError, match="longer than"):
        parse_condition(expr)


def test_rejects_deep_nesting():
    deep = "(" * (MAX_DEPTH + 1) + "works == 'no'" + ")" * (MAX_DEPTH + 1)
    with pytest.raises(ConditionError, match="nested too deeply"):
        parse_condition(deep)
    ok = "(" * MAX_DEPTH + "works == 'no'" + ")" * MAX_DEPTH
    assert parse_condition(ok).evaluate(ANSWERS)


def test_rejects_deep_not_chain():
    with pytest.raises(ConditionError, match="nested too deeply"):
        parse_condition("not " * (MAX_DEPTH + 1) + "true")


def test_references_and_compared_values():
    condition = parse_condition("works == 'no' and (days > 3 or 'x' in needs) and v in ['a', 1]")
    assert condition.references == frozenset({"works", "days", "needs", "v"})
    assert condition.compared_values == frozenset(
        {("works", "no"), ("days", 3), ("needs", "x"), ("v", "a"), ("v", 1)}
    )


def test_evaluate_never_raises_on_odd_answers():
    condition = parse_condition("needs > 3 or 'x' in needs or works == 'no'")
    odd = {"needs": object(), "works": {"a": 1}}
    assert condition.evaluate(odd) is False
