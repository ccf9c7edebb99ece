from dataclasses import dataclass

import pytest

from bot.flows.answers import MAX_TEXT, format_choices, interpret_answer, parse_number, prompt_text
from bot.flows.poll_format import load_poll

LANGUAGES = ("en", "sw", "hi")

POLL = load_poll(
    {
        "key": "check",
        "languages": list(LANGUAGES),
        "questions": [
            {
                "key": "works",
                "type": "choice",
                "prompt": {"en": "Has the borehole been repaired?", "sw": "Kisima kimekarabatiwa?"},
                "choices": [
                    {"value": "yes", "label": {"en": "Yes", "sw": "Ndiyo", "hi": "हाँ"}},
                    {"value": "partly", "label": {"en": "Partly", "sw": "Kiasi", "hi": "आंशिक"}},
                    {"value": "no", "label": {"en": "No", "sw": "Hapana", "hi": "नहीं"}},
                    {
                        "value": "dont_know",
                        "label": {"en": "Don't know", "sw": "Sijui", "hi": "पता नहीं"},
                    },
                ],
            },
            {
                "key": "needs",
                "type": "multi_choice",
                "prompt": {"en": "What do you need?", "sw": "Mnahitaji nini?"},
                "choices": [
                    {"value": "water", "label": {"en": "Clean water", "sw": "Maji safi"}},
                    {"value": "food", "label": {"en": "Food", "sw": "Chakula", "hi": "खाना"}},
                    {"value": "school", "label": {"en": "School", "sw": "Shule"}},
                ],
            },
            {"key": "safe", "type": "yes_no", "prompt": {"en": "Is it safe?"}},
            {"key": "seedlings", "type": "number", "min": 0, "max": 5000, "prompt": "How many?"},
            {"key": "score", "type": "rating", "prompt": "Rate it"},
            {"key": "comment", "type": "text", "prompt": "Anything else?"},
        ],
    }
)


@dataclass(frozen=True)
class FakeInterpretation:
    intent: str = "nlu_fallback"
    number: int | float | None = None
    choice: str | None = None


def answer(key, text, interpretation=None, language="en"):
    return interpret_answer(
        POLL.question(key),
        text,
        language=language,
        languages=LANGUAGES,
        interpretation=interpretation,
    )


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", "yes"),
        (" 2 ", "partly"),
        ("4.", "dont_know"),
        ("YES", "yes"),
        ("yes!", "yes"),
        ("ndiyo", "yes"),
        ("Hapana.", "no"),
        ("sijui", "dont_know"),
        ("don't know", "dont_know"),
        ("dont know", "dont_know"),
        ("dont_know", "dont_know"),
        ("part", "partly"),  # unique prefix of at least 3 letters
        ("kias", "partly"),
        ("हाँ", "yes"),
        ("हां", "yes"),  # anusvara for chandrabindu, as phones type it
        ("नहीं", "no"),
        ("पता नहीं", "dont_know"),
        ("१", "yes"),  # Devanagari digit
        ("٣", "no"),  # Arabic-Indic digit
    ],
)
def test_choice_accepts(text, value):
    result = answer("works", text)
    assert (result.ok, result.value, result.hint) == (True, value, None)


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("5", "choose_number"),
        ("0", "choose_number"),
        ("maybe", "choose_number"),
        ("pa", "choose_number"),  # too short to be a prefix
        ("", "empty"),
        ("   ", "empty"),
    ],
)
def test_choice_rejects(text, hint):
    result = answer("works", text)
    assert (result.ok, result.value, result.hint) == (False, None, hint)


def test_choice_uses_the_nlu_only_when_the_text_itself_is_unclear():
    assert answer("works", "sawa kabisa", FakeInterpretation("affirm")).value == "yes"
    assert answer("works", "hakuna", FakeInterpretation("deny")).value == "no"
    assert answer("works", "the second", FakeInterpretation("number", number=2)).value == "partly"
    assert answer("works", "whatever", FakeInterpretation(choice="dont_know")).value == "dont_know"
    # The reply's own number wins over an NLU guess.
    assert answer("works", "3", FakeInterpretation("affirm")).value == "no"
    assert not answer("works", "huh", FakeInterpretation("number", number=9)).ok


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", "yes"),
        ("2", "no"),
        ("Yes", "yes"),
        ("ndiyo", "yes"),
        ("hapana", "no"),
        ("oui", "yes"),
        ("có", "yes"),
        ("khong", "no"),
        ("हाँ", "yes"),
        ("नहीं", "no"),
        ("হ্যাঁ", "yes"),
        ("না", "no"),
        ("A'a", "no"),
        ("نعم", "yes"),
        ("inde", "yes"),
    ],
)
def test_yes_no(text, value):
    assert answer("safe", text).value == value


def test_yes_no_from_intent():
    assert answer("safe", "sawa", FakeInterpretation("affirm")).value == "yes"
    assert answer("safe", "hata kidogo", FakeInterpretation("deny")).value == "no"
    assert answer("safe", "sawa").hint == "choose_number"


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("1 3", ["water", "school"]),
        ("1,3", ["water", "school"]),
        ("1, 3", ["water", "school"]),
        ("1 and 3", ["water", "school"]),
        ("1and3", ["water", "school"]),
        ("3 na 1", ["school", "water"]),
        ("1 et 2", ["water", "food"]),
        ("1 và 2", ["water", "food"]),
        ("1 और 2", ["water", "food"]),
        ("১ এবং ৩", ["water", "school"]),
        ("1 da 2", ["water", "food"]),
        ("1 ndi 2", ["water", "food"]),
        ("1 و 2", ["water", "food"]),
        ("1و2", ["water", "food"]),
        ("2", ["food"]),
        ("1 1 3 1", ["water", "school"]),  # de-duplicated, first order kept
        ("maji safi na chakula", ["water", "food"]),
        ("Clean water, school", ["water", "school"]),
        ("खाना", ["food"]),
    ],
)
def test_multi_choice_accepts(text, values):
    result = answer("needs", text)
    assert (result.ok, result.value) == (True, values)


@pytest.mark.parametrize("text", ["1 4", "1 and bananas", "and", "0", "13"])
def test_multi_choice_rejects_any_invalid_item(text):
    result = answer("needs", text)
    assert (result.ok, result.hint) == (False, "choose_number")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500", 500),
        ("1,200", 1200),
        ("1 200", 1200),
        ("2.5", 2.5),
        ("2,5", 2.5),
        ("0", 0),
        ("+7", 7),
        ("about 20", 20),
        ("TREES 500", 500),
        ("५००", 500),
    ],
)
def test_number_accepts(text, value):
    result = answer("seedlings", text)
    assert (result.ok, result.value) == (True, value)


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("-1", "out_of_range"),
        ("5001", "out_of_range"),
        ("1,000,000", "out_of_range"),
        ("many", "not_a_number"),
        ("between 5 and 10", "not_a_number"),
        ("9" * 40, "not_a_number"),
    ],
)
def test_number_rejects(text, hint):
    result = answer("seedlings", text)
    assert (result.ok, result.hint) == (False, hint)


def test_number_words_use_the_nlu():
    assert answer("seedlings", "mia tano", FakeInterpretation("number", number=500)).value == 500
    assert answer("seedlings", "mia tano").hint == "not_a_number"
    assert answer("seedlings", "elfu kumi", FakeInterpretation("number", 10000)).hint == (
        "out_of_range"
    )


@pytest.mark.parametrize(
    ("text", "ok", "value", "hint"),
    [
        ("1", True, 1, None),
        ("5", True, 5, None),
        ("6", False, None, "out_of_range"),
        ("0", False, None, "out_of_range"),
        ("3.5", False, None, "out_of_range"),
        ("good", False, None, "not_a_number"),
    ],
)
def test_rating(text, ok, value, hint):
    result = answer("score", text)
    assert (result.ok, result.value, result.hint) == (ok, value, hint)


def test_rating_from_nlu():
    assert answer("score", "four", FakeInterpretation("number", number=4)).value == 4


def test_text_is_stripped_and_capped():
    assert answer("comment", "  The pump leaks  ").value == "The pump leaks"
    assert len(answer("comment", "x" * 5000).value) == MAX_TEXT
    assert answer("comment", " ").hint == "empty"


@pytest.mark.parametrize(
    ("text", "number"),
    [("1,200", 1200), ("12,000,000", 12000000), ("1,5", 1.5), ("-3", -3), ("1.200", 1.2)],
)
def test_parse_number(text, number):
    assert parse_number(text) == number


@pytest.mark.parametrize("text", ["", "1,2,3", "1.2.3", "abc", "1 2 3", "12 34"])
def test_parse_number_rejects(text):
    assert parse_number(text) is None


def test_format_choices_and_prompt_text():
    works = POLL.question("works")
    assert format_choices(works, "en", LANGUAGES) == "1 Yes 2 Partly 3 No 4 Don't know"
    assert format_choices(works, "sw", LANGUAGES) == "1 Ndiyo 2 Kiasi 3 Hapana 4 Sijui"
    # Missing translation falls back to the poll's first language.
    needs = POLL.question("needs")
    assert format_choices(needs, "hi", LANGUAGES) == "1 Clean water 2 खाना 3 School"
    assert prompt_text(works, "sw", LANGUAGES) == (
        "Kisima kimekarabatiwa?\n1 Ndiyo 2 Kiasi 3 Hapana 4 Sijui"
    )
    assert prompt_text(POLL.question("seedlings"), "sw", LANGUAGES) == "How many?"
    assert prompt_text(POLL.question("score"), "en", LANGUAGES) == "Rate it\n(1-5)"
    assert prompt_text(POLL.question("safe"), "hi", LANGUAGES) == "Is it safe?\n1 हाँ 2 नहीं"
