"""Keyword matching by rule: case-, accent- and punctuation-insensitive, in every script."""

from __future__ import annotations

import pytest

from bot.keywords import DELETE, HELP, LANGUAGE, REPORT, START, STOP, KeywordTable, fold, is_skip

TABLE = KeywordTable({"MITI": ("report", "trees"), "Maji": ("poll", "water-point")})


@pytest.mark.parametrize(
    ("text", "action", "language", "rest"),
    [
        ("STOP", STOP, "en", ""),
        ("stop.", STOP, "en", ""),
        ("  Stop!! ", STOP, "en", ""),
        ("STÓP", STOP, "en", ""),
        ("Acha", STOP, "sw", ""),
        ("ARRÊTER", STOP, "fr", ""),
        ("arreter", STOP, "fr", ""),
        ("dừng lại", STOP, "vi", ""),
        ("बंद", STOP, "hi", ""),
        ("বন্ধ", STOP, "bn", ""),
        ("توقف", STOP, "ar", ""),
        ("JOIN", START, "en", ""),
        ("Jiunge", START, "sw", ""),
        ("tham gia", START, "vi", ""),
        ("THAM GIA!", START, "vi", ""),
        ("JOIN Ngiluni", START, "en", "ngiluni"),
        ("HELP", HELP, "en", ""),
        ("info?", HELP, "en", ""),
        ("msaada", HELP, "sw", ""),
        ("मदद", HELP, "hi", ""),
        ("LANGUAGE", LANGUAGE, "en", ""),
        ("LANGUAGE sw", LANGUAGE, "en", "sw"),
        ("LUGHA 2", LANGUAGE, "sw", "2"),
        ("langue: français", LANGUAGE, "fr", "francais"),
        ("भाषा", LANGUAGE, "hi", ""),
        ("DELETE", DELETE, "en", ""),
        ("futa", DELETE, "sw", ""),
        ("Xóa", DELETE, "vi", ""),
        ("মুছুন", DELETE, "bn", ""),
        ("miti 500 Ngiluni school", REPORT, None, "500 ngiluni school"),
        ("maji", "poll", None, ""),
    ],
)
def test_keywords_match_by_rule(text, action, language, rest):
    match = TABLE.match(text)
    assert match is not None
    assert (match.action, match.language, match.rest) == (action, language, rest)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1",
        "yes",
        "Đúng",  # "right" in Vietnamese: folds to the letters of "dừng" (stop), is no keyword
        "please stop the borehole repairs from being delayed",  # STOP mid-sentence
        "help is needed at the borehole",
        "DELETE 5",  # only START, LANGUAGE and reports take an argument
        "maji 5",
    ],
)
def test_non_keywords(text):
    assert TABLE.match(text) is None


def test_the_nlu_lexicon_adds_spellings():
    match = TABLE.match("aidez moi")
    assert match is not None and match.action == HELP


def test_organisation_keyword_carries_its_word_and_argument():
    match = TABLE.match("MAJI")
    assert (match.word, match.argument) == ("maji", "water-point")


@pytest.mark.parametrize(
    ("text", "folded"),
    [("Ndiyo!", "ndiyo"), ("  É  é ", "e e"), ("बंद", "बंद"), ("Tiếng Việt", "tieng viet")],
)
def test_fold_keeps_indic_vowel_signs_and_drops_latin_accents(text, folded):
    assert fold(text) == folded


@pytest.mark.parametrize("text", ["SKIP", "skip.", "Ruka", "passer", "bỏ qua", "छोड़ें"])
def test_skip_words(text):
    assert is_skip(text)
