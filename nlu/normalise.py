"""Folding of free-typed replies so that lexicon look-ups ignore case, accents and punctuation.

Feature phones and shared handsets often lack accents, so "khong", "không" and "KHÔNG"
must meet the same lexicon entry. Combining marks are only dropped after Latin letters:
in Devanagari and Bengali the vowel signs are combining marks that carry meaning.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Letters that Unicode does not decompose into base + mark, so NFD alone leaves them.
_LATIN_EXTRA = str.maketrans(
    {
        "đ": "d",
        "Đ": "d",
        "ɗ": "d",
        "Ɗ": "d",
        "ƙ": "k",
        "Ƙ": "k",
        "ɓ": "b",
        "Ɓ": "b",
        "ƴ": "y",
        "Ƴ": "y",
        "ß": "ss",
        "æ": "ae",
        "œ": "oe",
        "ø": "o",
        "ł": "l",
    }
)

# Arabic: people mix hamza forms, taa marbuta and alef maqsura freely in SMS.
_ARABIC = str.maketrans(
    {
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",
        "ة": "ه",
        "ى": "ي",
        "ؤ": "و",
        "ئ": "ي",
        "ـ": None,  # tatweel only stretches a word
        "،": ",",
        "؟": "?",
        "؛": ";",
    }
)

# Chandrabindu vs anusvara and the nukta are typed interchangeably ("हाँ"/"हां").
_INDIC = str.maketrans({"ँ": "ं", "़": None, "ঁ": None, "়": None, "\u200c": None, "\u200d": None})

_APOSTROPHES = re.compile(r"['’ʼ‘`´]")
# Anything that is not a letter, mark or digit separates words.
_SEPARATORS = re.compile(r"[^\w\u0900-\u097f\u0980-\u09ff]+")

_DIGITS = {}
for _zero in (0x0660, 0x06F0, 0x0966, 0x09E6, 0xFF10):
    for _i in range(10):
        _DIGITS[_zero + _i] = str(_i)
_DIGIT_TABLE = str.maketrans(_DIGITS)


def ascii_digits(text: str) -> str:
    """Arabic-Indic, Persian, Devanagari, Bengali and full-width digits become 0-9."""
    return text.translate(_DIGIT_TABLE)


def _strip_latin_marks(text: str) -> str:
    out: list[str] = []
    previous_latin = False
    for ch in unicodedata.normalize("NFD", text):
        if unicodedata.combining(ch):
            if previous_latin:
                continue
            out.append(ch)
            continue
        previous_latin = ch < "\u0250"
        out.append(ch)
    return unicodedata.normalize("NFC", "".join(out))


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """Lower-case, accent-free, punctuation-free text with single spaces and ASCII digits."""
    text = text.casefold().translate(_LATIN_EXTRA)
    if not text.isascii():
        text = _strip_latin_marks(text).translate(_ARABIC).translate(_INDIC)
        text = ascii_digits(text)
    text = _APOSTROPHES.sub("", text)
    return " ".join(_SEPARATORS.sub(" ", text).split())


@lru_cache(maxsize=65536)
def tokens(text: str) -> tuple[str, ...]:
    """Folded words; underscores count as separators too."""
    return tuple(fold(text).replace("_", " ").split())


@lru_cache(maxsize=65536)
def light_tokens(text: str) -> tuple[str, ...]:
    """Words folded for case and punctuation only, keeping accents that change meaning."""
    text = ascii_digits(unicodedata.normalize("NFC", text.casefold()))
    text = _APOSTROPHES.sub("", text.translate(_ARABIC).translate(_INDIC))
    return tuple(_SEPARATORS.sub(" ", text).replace("_", " ").split())
