"""The pure parts of USSD: diffing the cumulative text, GSM-7, paging within 182."""

from __future__ import annotations

import random

import pytest

from bot import ussd
from bot.flows.poll_format import load_poll
from bot.segments import is_gsm7
from heard.demo import DEMO_POLL


@pytest.mark.parametrize(
    ("consumed", "cumulative", "expected"),
    [
        (None, "", None),  # the first hop: nothing typed yet
        ("", "", None),  # a provider retry of the first hop
        ("", "1", "1"),
        ("1", "1*2", "2"),
        ("1*2", "1*2*", ""),  # an empty input
        ("1", "1*12*5", "12*5"),  # a `*` inside the answer stays in it
        ("1*2", "1*2", None),  # a retry
        ("1*2", "7", "7"),  # the network restarted the text
    ],
)
def test_new_input(consumed, cumulative, expected):
    assert ussd.new_input(consumed, cumulative) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Plain text", "Plain text"),
        ("Êtes-vous là ?", "Etes-vous là ?"),  # à is GSM-7, Ê is not
        ("Nước có sạch không?", "Nuoc co sach khong?"),
        ("It\u2019s\u00a0fine", "It's fine"),
        ("क्या नल काम कर रहा है?", None),
        ("هل يعمل الصنبور؟", None),
    ],
)
def test_gsm7(text, expected):
    assert ussd.gsm7(text) == expected


def test_units_count_extension_characters_twice():
    assert ussd.units("[1]") == 5
    assert ussd.units("€") == 2


@pytest.mark.parametrize("seed", range(25))
@pytest.mark.parametrize("language", ["en", "sw", "fr"])
def test_every_page_fits_and_nothing_is_lost(seed, language):
    rng = random.Random(seed)
    words = ["maji", "kisima", "Ngiluni", "1", "water", "{", "x" * rng.randint(1, 240)]
    lines = [
        " ".join(rng.choice(words) for _ in range(rng.randint(1, 30)))
        for _ in range(rng.randint(1, 8))
    ]
    body = "\n".join(lines)
    pages = ussd.paginate(body, language)
    for page in pages:
        assert ussd.units(page) <= ussd.USSD_TARGET
    footers = {ussd.footer(language, more=m, back=b) for m in (0, 1) for b in (0, 1)}
    kept = []
    for page in pages:
        for footer in sorted(footers, key=len, reverse=True):
            if footer and page.endswith("\n" + footer):
                page = page[: -len(footer) - 1]
                break
        kept.append(page)
    assert "".join("".join(kept).split()) == "".join(body.split())


def test_navigation_keys_only_where_shown():
    assert ussd.navigate(0, 1, "98") is None
    assert ussd.navigate(0, 3, "98") == 1
    assert ussd.navigate(0, 3, "0") is None
    assert ussd.navigate(1, 3, "0") == 0
    assert ussd.navigate(2, 3, "98") is None
    assert ussd.navigate(2, 3, "0", back_on_last=False) is None


LONG_ORG = "Ngiluni Community Voices for Water and Sanitation Kitui"


@pytest.mark.parametrize("language", ["en", "sw", "fr", "hi", "vi", "ar"])
@pytest.mark.parametrize("key", sorted(ussd.TEXTS))
def test_every_label_is_gsm7_and_fits(key, language):
    params = {"org": LONG_ORG, "unit": "seedlings", "group": "Women", "total": "17,750"}
    rendered = ussd.text(key, language, **params)
    assert is_gsm7(rendered)
    for page in ussd.paginate(rendered, language):
        assert ussd.units(page) <= ussd.USSD_LIMIT


@pytest.mark.parametrize("language", ["en", "sw"])
def test_demo_poll_questions_fit_one_screen(language):
    poll = load_poll(DEMO_POLL)
    for question in poll.questions:
        body = ussd.question_body(question, language, poll.languages)
        assert body is not None and is_gsm7(body)
        assert ussd.units(body) <= ussd.USSD_TARGET


def test_question_without_latin_variant_has_no_body():
    poll = load_poll(
        {
            "key": "nal",
            "languages": ["hi"],
            "questions": [{"key": "q", "type": "yes_no", "prompt": {"hi": "क्या?"}}],
        }
    )
    assert ussd.question_body(poll.questions[0], "hi", poll.languages) is None


def test_screen_body_prefix():
    assert ussd.Screen("Hi").body() == "CON Hi"
    assert ussd.Screen("Bye", end=True).body() == "END Bye"
