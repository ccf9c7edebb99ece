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

_APOSTROPHES = "'’ʼ‘`´"
# Anything that is not a letter, mark or digit separates words.
_SEPARATORS = re.compile(r"[^\w\u0900-\u097f\u0980-\u09ff]+")

_DIGITS = {}
for _zero in (0x0660, 0x06F0, 0x0966, 0x09E6, 0xFF10):
    for _i in range(10):
        _DIGITS[_zero + _i] = str(_i)
_DIGIT_TABLE = str.maketrans(_DIGITS)

# Everything applied after the marks are stripped, as one table: one pass instead of four.
# The tables share no keys and none maps onto another's key, so the order never mattered.
_AFTER_MARKS = str.maketrans(
    {**_ARABIC, **_INDIC, **_DIGITS, **dict.fromkeys(map(ord, _APOSTROPHES))}
)


def _keys_of(table: dict[int, str | None]) -> re.Pattern[str]:
    return re.compile("[" + re.escape("".join(map(chr, table))) + "]")


# str.translate with a dict raises and catches a KeyError for every character it leaves
# alone, which makes it slow on non-ASCII text: a C-level search decides whether to run it.
_LATIN_EXTRA_KEYS = _keys_of(_LATIN_EXTRA)
_AFTER_MARKS_KEYS = _keys_of(_AFTER_MARKS)

# Most replies are plain ASCII: folding them is one C-level bytes.translate (lower-case;
# anything but a letter, digit or "_" becomes a space; apostrophes vanish) and a split.
_ASCII_FOLD = bytes(
    ord(chr(c).lower()) if chr(c).isalnum() or chr(c) == "_" else ord(" ") for c in range(256)
)
_ASCII_APOSTROPHES = b"'`"
# The usual accents: U+0300-U+036F are all combining except the grapheme joiner U+034F.
_ACCENT = re.compile("[\u0300-\u036f]")
_LATIN_ACCENTS = re.compile("(?<=[\x00-\u024f])[\u0300-\u034e\u0350-\u036f]+")
# A Latin letter (as `_strip_latin_marks` counts them) followed by a character that may be
# a combining mark; the Devanagari, Bengali and Arabic letters excluded here never are
# (tests/nlu check every excluded range against unicodedata).
_LATIN_THEN_MARK = re.compile(
    "[\x00-\u024f][^\x00-\u02ff\u0620-\u064a\u0904-\u0939\u0985-\u09b9\u1e00-\u1eff]"
)
MARK_FREE_RANGES = ((0, 0x2FF), (0x620, 0x64A), (0x904, 0x939), (0x985, 0x9B9), (0x1E00, 0x1EFF))


def ascii_digits(text: str) -> str:
    """Arabic-Indic, Persian, Devanagari, Bengali and full-width digits become 0-9."""
    return text.translate(_DIGIT_TABLE)


def _strip_marks_slowly(nfd: str) -> str:
    out: list[str] = []
    previous_latin = False
    for ch in nfd:
        if unicodedata.combining(ch):
            if previous_latin:
                continue
            out.append(ch)
            continue
        previous_latin = ch < "\u0250"
        out.append(ch)
    return "".join(out)


def _strip_latin_marks(text: str) -> str:
    """Drop combining marks after Latin letters only (Indic vowel signs carry meaning).

    A regex drops the usual accents; the per-character walk runs only when some other
    combining mark may still follow a Latin letter, which ordinary replies never have.
    """
    nfd = unicodedata.normalize("NFD", text)
    stripped = _LATIN_ACCENTS.sub("", nfd) if _ACCENT.search(nfd) else nfd
    for match in _LATIN_THEN_MARK.finditer(stripped):
        if unicodedata.combining(match.group()[1]):
            stripped = _strip_marks_slowly(nfd)
            break
    return unicodedata.normalize("NFC", stripped)


def _fold_words(text: str) -> str:
    """`fold` before spaces are squeezed, with "_" still a word character."""
    if not text.isascii():
        text = text.casefold()
        if _LATIN_EXTRA_KEYS.search(text):
            text = text.translate(_LATIN_EXTRA)
        if not text.isascii():
            text = _strip_latin_marks(text)
            if _AFTER_MARKS_KEYS.search(text):
                text = text.translate(_AFTER_MARKS)
            return _SEPARATORS.sub(" ", text)
    return text.encode().translate(_ASCII_FOLD, _ASCII_APOSTROPHES).decode()


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """Lower-case, accent-free, punctuation-free text with single spaces and ASCII digits."""
    return " ".join(_fold_words(text).split())


def split_words(text: str) -> tuple[str, ...]:
    """`tokens` without the cache, for callers that keep their own cache per reply."""
    return tuple(_fold_words(text).replace("_", " ").split())


def split_light_words(text: str) -> tuple[str, ...]:
    """`light_tokens` without the cache; for ASCII replies it equals `split_words`."""
    if text.isascii():
        return split_words(text)
    text = unicodedata.normalize("NFC", text.casefold())
    if _AFTER_MARKS_KEYS.search(text):
        text = text.translate(_AFTER_MARKS)
    return tuple(_SEPARATORS.sub(" ", text).replace("_", " ").split())


@lru_cache(maxsize=65536)
def tokens(text: str) -> tuple[str, ...]:
    """Folded words; underscores count as separators too."""
    return split_words(text)


@lru_cache(maxsize=65536)
def light_tokens(text: str) -> tuple[str, ...]:
    """Words folded for case and punctuation only, keeping accents that change meaning."""
    return split_light_words(text)
