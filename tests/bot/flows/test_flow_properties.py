"""Untrusted text in, never an unexpected exception out."""

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.flows import answers
from bot.flows.answers import AnswerResult, interpret_answer
from bot.flows.conditions import ConditionError, parse_condition
from bot.flows.poll_format import PollValidationError, load_poll

# Fragments of the condition language, so generated text gets deep into the parser
# instead of failing at the first character.
FRAGMENTS = st.sampled_from(
    ["works", "days", "==", "!=", "<", ">=", "in", "not", "and", "or", "(", ")", "[", "]",
     ",", "'no'", '"x"', "3", "2.5", "null", "true", "false", " ", ".", "__import__", "$"]
)  # fmt: skip
EXPRESSIONS = st.one_of(st.text(max_size=80), st.lists(FRAGMENTS, max_size=40).map("".join))

POLL = load_poll(
    {
        "key": "p",
        "languages": ["en", "sw"],
        "questions": [
            {
                "key": "pick",
                "type": "choice",
                "prompt": "Pick",
                "choices": [{"value": "a", "label": "Apple"}, {"value": "b", "label": "Banana"}],
            },
            {
                "key": "many",
                "type": "multi_choice",
                "prompt": "Many",
                "choices": [{"value": "a", "label": "Apple"}, {"value": "b", "label": "Banana"}],
            },
            {"key": "ok", "type": "yes_no", "prompt": "Ok?"},
            {"key": "n", "type": "number", "min": 0, "max": 10, "prompt": "N?"},
            {"key": "r", "type": "rating", "prompt": "R?"},
            {"key": "t", "type": "text", "prompt": "T?"},
        ],
    }
)
ANSWER_VALUES = st.one_of(
    st.none(), st.integers(), st.floats(), st.text(max_size=5), st.lists(st.text(max_size=3))
)


@settings(max_examples=400, deadline=None)
@given(EXPRESSIONS, st.dictionaries(st.sampled_from(["works", "days"]), ANSWER_VALUES))
def test_parse_condition_raises_only_condition_error(expr, answers):
    try:
        condition = parse_condition(expr)
    except ConditionError as error:
        assert 0 <= error.position <= len(expr)
        return
    assert isinstance(condition.evaluate(answers), bool)


class Odd:
    intent = "affirm"
    number = float("nan")
    choice = 3


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(POLL.questions),
    st.text(max_size=60),
    st.sampled_from([None, Odd()]),
)
def test_interpret_answer_never_raises(question, text, interpretation):
    result = interpret_answer(
        question, text, language="sw", languages=POLL.languages, interpretation=interpretation
    )
    assert isinstance(result, AnswerResult)
    assert result.ok == (result.hint is None)
    # interpret_answer has a last-resort net; the rules themselves must not need it.
    assert answers._interpret(question, text, interpretation) == result
    if not result.ok:
        assert result.value is None


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=30,
)
FIELDS = st.sampled_from(
    ["key", "type", "prompt", "choices", "min", "max", "when", "required", "sdg", "value", "label"]
)
QUESTION = st.dictionaries(FIELDS, JSON | st.sampled_from(["choice", "yes_no", "en", "a == 1"]))


@settings(max_examples=150, deadline=None)
@given(
    st.fixed_dictionaries(
        {"key": JSON | st.just("p"), "languages": JSON | st.just(["en"])},
        optional={"questions": st.lists(QUESTION, max_size=4), "title": JSON},
    )
)
def test_load_poll_raises_only_validation_errors(data):
    try:
        load_poll(data)
    except PollValidationError as error:
        assert error.problems
