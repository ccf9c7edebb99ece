"""Language identification of short replies."""

from __future__ import annotations

import pytest

from nlu.language import identify_language, plain_langdetect, script_languages


@pytest.mark.parametrize(
    ("reply", "language"),
    [
        ("Yes, we received the message", "en"),
        ("tumepanda miche mia tano leo", "sw"),
        ("Nous avons planté trois cents arbres", "fr"),
        ("Tôi không muốn nhận tin nữa", "vi"),
        ("toi khong muon nhan tin nua", "vi"),
        ("नहीं, मुझे नहीं मिला", "hi"),
        ("हो, मैले पाएँ", "ne"),
        ("হ্যাঁ, আমি পেয়েছি", "bn"),
        ("نعم، وصلتني الرسالة", "ar"),
        ("ayi sindinalandire uthenga", "ny"),
        ("mun dasa itatuwa ɗari uku", "ha"),
        ("a'a ban samu ba", "ha"),
        ("ndiyo", "sw"),
        ("hapana", "sw"),
        ("không", "vi"),
    ],
)
def test_identifies(reply: str, language: str) -> None:
    assert identify_language(reply) == language


@pytest.mark.parametrize("reply", ["ok", "ee", "asdfgh", "18", "👍", "", "na"])
def test_none_rather_than_a_guess_on_one_word(reply: str) -> None:
    assert identify_language(reply) is None


def test_known_language_wins_when_consistent() -> None:
    assert identify_language("ee", known="ha") == "ha"
    assert identify_language("ee", known="sw") == "sw"
    assert identify_language("500", known="ny") == "ny"
    # ... but not against the script or clear lexicon evidence.
    assert identify_language("नहीं", known="sw") == "hi"
    assert identify_language("yes please", known="sw") == "en"


def test_allowed_restricts() -> None:
    assert identify_language("बंद कर दो", allowed=["ne"]) == "ne"
    assert identify_language("بدي مساعدة", allowed=["en", "sw"]) is None


def test_scripts() -> None:
    assert script_languages("হ্যাঁ") == {"bn"}
    assert script_languages("हाँ") == {"hi", "ne"}
    assert script_languages("لا") == {"ar"}
    assert script_languages("được") == {"vi"}
    assert "vi" in script_languages("không")
    assert script_languages("kaɗan") == {"ha"}
    assert script_languages("hello") is None


def test_beats_plain_langdetect_on_short_sentences() -> None:
    replies = [
        ("ku tsaya don Allah", "ha"),
        ("ndikufuna kuleka", "ny"),
        ("acha sasa", "sw"),
        ("hapana kabisa", "sw"),
        ("oui monsieur", "fr"),
        ("no sir", "en"),
        ("ho hajur", "ne"),
        ("inde ndalandira uthenga", "ny"),
    ]
    ours = sum(identify_language(t) == lang for t, lang in replies)
    theirs = sum(plain_langdetect(t) == lang for t, lang in replies)
    assert ours > theirs
    assert ours >= len(replies) - 1
