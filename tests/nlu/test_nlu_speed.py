"""The hot path's shortcuts agree with the plain definitions they replace.

The interpreter folds each reply once, skips work with C-level look-ups and answers bare
digits without the lexicons; these tests pin the facts those shortcuts rely on.
"""

from __future__ import annotations

import re
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from nlu import BuiltinInterpreter, lexicon, normalise
from nlu.language import script_languages
from nlu.normalise import MARK_FREE_RANGES, fold, light_tokens, tokens

# The folding as first written: four translate passes and a per-character walk.
_SEPARATORS = re.compile(r"[^\w\u0900-\u097f\u0980-\u09ff]+")
_APOSTROPHES = re.compile(r"['’ʼ‘`´]")


def reference_fold(text: str) -> str:
    text = text.casefold().translate(normalise._LATIN_EXTRA)
    if not text.isascii():
        out: list[str] = []
        previous_latin = False
        for ch in unicodedata.normalize("NFD", text):
            if unicodedata.combining(ch):
                if not previous_latin:
                    out.append(ch)
                continue
            previous_latin = ch < "\u0250"
            out.append(ch)
        text = unicodedata.normalize("NFC", "".join(out))
        text = text.translate(normalise._ARABIC).translate(normalise._INDIC)
        text = normalise.ascii_digits(text)
    text = _APOSTROPHES.sub("", text)
    return " ".join(_SEPARATORS.sub(" ", text).split())


def reference_light_tokens(text: str) -> tuple[str, ...]:
    text = normalise.ascii_digits(unicodedata.normalize("NFC", text.casefold()))
    text = _APOSTROPHES.sub("", text.translate(normalise._ARABIC).translate(normalise._INDIC))
    return tuple(_SEPARATORS.sub(" ", text).replace("_", " ").split())


ODD_CASES = [
    "",
    "Yes_sir",
    "don't",
    "d’accord",
    "Đúng",
    "ɗ\u0301ari",  # a mark after a letter only the Latin table makes Latin
    "e\u0301\u093c",  # an accent then a nukta, both after a Latin letter
    "a\u034f\u0301",  # the grapheme joiner is not a combining mark
    "STRASSE ß",
    "ẹ́ẹ̀ ọ̀kan",
    "हाँ हां क़",
    "ছয় ৫",
    "أريد ٥٠٠ ـ",
    "ok 👍 ①²",
]

# Letters, accents and marks of the scripts Heard serves, plus anything else.
_REPLY_CHARS = st.one_of(
    st.sampled_from(list("aeiouy AEIOU'`_-,.!?0123456789")),
    st.characters(min_codepoint=0x00C0, max_codepoint=0x036F),
    st.characters(min_codepoint=0x0600, max_codepoint=0x06FF),
    st.characters(min_codepoint=0x0900, max_codepoint=0x09FF),
    st.characters(min_codepoint=0x1E00, max_codepoint=0x1EFF),
    st.characters(),
)


def test_folding_matches_the_plain_definition_on_odd_replies() -> None:
    for text in ODD_CASES:
        assert fold(text) == reference_fold(text), text
        assert tokens(text) == tuple(reference_fold(text).replace("_", " ").split()), text
        assert light_tokens(text) == reference_light_tokens(text), text


@settings(max_examples=400, deadline=None)
@given(st.text(_REPLY_CHARS, max_size=24))
def test_folding_matches_the_plain_definition(text: str) -> None:
    assert fold(text) == reference_fold(text)
    assert light_tokens(text) == reference_light_tokens(text)


def test_mark_free_ranges_hold_no_combining_mark() -> None:
    for first, last in MARK_FREE_RANGES:
        for code in range(first, last + 1):
            ch = chr(code)
            assert not unicodedata.combining(ch), hex(code)
            assert not any(unicodedata.combining(c) for c in unicodedata.normalize("NFC", ch))


def test_yoruba_tone_marks_still_decide_the_script() -> None:
    assert script_languages("ẹ́ ò") == frozenset({"yo"})
    assert script_languages("naïve") == frozenset({"fr"})


def test_no_lexicon_entry_contains_a_digit() -> None:
    """Bare digits skip the lexicons; that is only right while no entry has a digit."""
    entries = [*lexicon._KEYWORDS, *lexicon._STEMS]
    entries += [" ".join(phrase) for group in lexicon._PHRASES.values() for phrase, _, _ in group]
    assert not [entry for entry in entries if any(ch.isdigit() for ch in entry)]


def test_bare_digits_keep_the_participants_language() -> None:
    nlu = BuiltinInterpreter(languages=["sw", "en"])
    got = nlu.parse(" 0500 ", language_hint="sw")
    assert (got.intent, got.number, got.language, got.confidence) == ("number", 500, "sw", 0.95)
    assert nlu.parse("18", language_hint="fr").language is None  # not a language it serves
    assert nlu.parse("١٨").number == 18
