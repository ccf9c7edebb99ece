"""Which language a short reply is written in.

Statistical detectors guess wildly on one or two words ("ok", "ee", "na"), and langdetect
knows no Chichewa, Hausa, Kamba or Yoruba. So the order is: the participant's known
language when the reply fits it, then the script, then our lexicons, and langdetect only
to settle longer Latin-script replies the lexicons leave open.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from nlu.lexicon import (
    _MIN_STEM,
    _STEM_HEADS,
    _VOCABULARY,
    LANGUAGES,
    VOCABULARY_LISTENERS,
    stem_languages,
)
from nlu.normalise import MARK_FREE_RANGES, tokens
from nlu.numbers import number_vocabulary

# The supported languages langdetect has profiles for.
LANGDETECT_LANGUAGES = ("en", "sw", "fr", "vi", "hi", "bn", "ne", "ar")

_VI_LETTERS = frozenset("ăđơưạảấầẩẫậắằẳẵặẻẽếềểễệỉịỏốồổỗộớờởỡợụủứừửữựỳỵỷỹõ")
_KAMBA_LETTERS = frozenset("ĩũ")
_FR_LETTERS = frozenset("çëîïœûÿ")
_FR_OR_VI_LETTERS = frozenset("âêô")
_HAUSA_LETTERS = frozenset("ɗƙɓƴ")
_YORUBA_LETTERS = frozenset("ṣ")

# One C-level search per script instead of a Python loop over every character.
_DEVANAGARI = re.compile("[\u0900-\u097f]")
_BENGALI = re.compile("[\u0980-\u09ff]")
_ARABIC_SCRIPT = re.compile("[\u0600-\u06ff\ufb50-\ufeff]")
_EMPTY: frozenset[str] = frozenset()

_NUMBER_WORDS: dict[str, frozenset[str]] = {}
for _lang, _words in number_vocabulary().items():
    for _word in _words:
        _NUMBER_WORDS[_word] = _NUMBER_WORDS.get(_word, frozenset()) | {_lang}


# Each known word's vote, computed once: word -> ((language, share), ...).
_SHARES: dict[str, tuple[tuple[str, float], ...]] = {}


def _build_shares() -> None:
    _SHARES.clear()
    for word in _VOCABULARY.keys() | _NUMBER_WORDS.keys():
        languages = _VOCABULARY.get(word, _EMPTY) | _NUMBER_WORDS.get(word, _EMPTY)
        _SHARES[word] = tuple((language, 1.0 / len(languages)) for language in languages)


_build_shares()
VOCABULARY_LISTENERS.append(_build_shares)


# Characters outside ranges known to hold no combining mark (see normalise).
_MAYBE_MARK = re.compile(
    "[^" + "".join(f"\\u{a:04x}-\\u{b:04x}" for a, b in MARK_FREE_RANGES) + "]"
)


def _has_combining(text: str) -> bool:
    """Whether a combining mark is left once the text is composed (NFC)."""
    if not _MAYBE_MARK.search(text):
        return False
    nfc = unicodedata.normalize("NFC", text)
    return any(unicodedata.combining(c) for c in _MAYBE_MARK.findall(nfc))


def script_languages(text: str) -> frozenset[str] | None:
    """Languages the characters allow, or None when they allow any Latin-script language."""
    if text.isascii():
        return None
    # casefold never moves a character into or out of these blocks: search the text as is.
    found: set[str] = set()
    if _DEVANAGARI.search(text):
        found.update(("hi", "ne"))
    if _BENGALI.search(text):
        found.add("bn")
    if _ARABIC_SCRIPT.search(text):
        found.add("ar")
    if found:
        return frozenset(found)
    lowered = text.casefold()
    letters = set(lowered)
    if letters & _HAUSA_LETTERS:
        return frozenset({"ha"})
    # Yoruba tone marks on dotted vowels ("ẹ́", "ọ̀") have no precomposed form.
    if letters & _YORUBA_LETTERS or _has_combining(lowered):
        return frozenset({"yo"})
    if letters & _VI_LETTERS:
        return frozenset({"vi"})
    if letters & _KAMBA_LETTERS:
        return frozenset({"kam", "vi"})
    if letters & _FR_LETTERS:
        return frozenset({"fr"})
    if letters & _FR_OR_VI_LETTERS:
        return frozenset({"fr", "vi"})
    return None


@lru_cache(maxsize=65536)
def lexicon_votes(text: str) -> dict[str, float]:
    """Each known word votes for its languages; rarer words weigh more."""
    return _votes(tokens(text))


def _votes(words: Iterable[str]) -> dict[str, float]:
    votes: dict[str, float] = {}
    for word in words:
        if word.isdigit():
            continue
        shares = _SHARES.get(word)
        if shares is None:
            if word[:_MIN_STEM] not in _STEM_HEADS:
                continue
            languages = stem_languages(word)
            if not languages:
                continue
            shares = tuple((language, 1.0 / len(languages)) for language in languages)
        for language, share in shares:
            votes[language] = votes.get(language, 0.0) + share
    return votes


def _profiles_dir() -> Path:
    import langdetect

    return Path(langdetect.__file__).parent / "profiles"


@lru_cache(maxsize=1)
def _factory():
    """A langdetect factory holding only our languages, seeded for repeatable answers."""
    from langdetect.detector_factory import DetectorFactory
    from langdetect.utils.lang_profile import LangProfile

    DetectorFactory.seed = 0
    factory = DetectorFactory()
    directory = _profiles_dir()
    for index, language in enumerate(LANGDETECT_LANGUAGES):
        data = json.loads((directory / language).read_text(encoding="utf-8"))
        factory.add_profile(LangProfile(**data), index, len(LANGDETECT_LANGUAGES))
    return factory


@lru_cache(maxsize=16384)
def langdetect_scores(text: str) -> dict[str, float]:
    """langdetect's probabilities over our languages only; empty when it cannot tell."""
    from langdetect.lang_detect_exception import LangDetectException

    detector = _factory().create()
    detector.append(text)
    try:
        return {p.lang: p.prob for p in detector.get_probabilities()}
    except LangDetectException:
        return {}


@lru_cache(maxsize=16384)
def plain_langdetect(text: str) -> str | None:
    """Off-the-shelf langdetect over all its 55 languages: the baseline we must beat."""
    from langdetect import DetectorFactory, detect
    from langdetect.lang_detect_exception import LangDetectException

    DetectorFactory.seed = 0
    try:
        return detect(text)
    except LangDetectException:
        return None


def identify_language(
    text: str,
    *,
    known: str | None = None,
    allowed: Iterable[str] | None = None,
    statistical: bool = True,
) -> str | None:
    """The reply's language, or None rather than a wild guess.

    `statistical=False` skips langdetect (~1-15 ms a call): the hot path uses it when the
    lexicons have already decided what the reply means.
    """
    if not isinstance(text, str):
        return None
    allowed_set = frozenset(allowed) if allowed is not None else _ALL
    return _identify(text[:400], known, allowed_set, statistical)


_ALL = frozenset(LANGUAGES)


@lru_cache(maxsize=65536)
def _identify(
    text: str, known: str | None, allowed: frozenset[str], statistical: bool
) -> str | None:
    return identify_words(text, tokens(text), known, allowed, statistical)


def identify_words(
    text: str,
    folded: tuple[str, ...],
    known: str | None,
    allowed: frozenset[str],
    statistical: bool,
) -> str | None:
    """`identify_language` on the reply's folded words, uncached: the interpreter's hot path
    folds once and caches whole answers, so a second fold and cache here would only cost."""
    words = [w for w in folded if not w.isdigit()]
    script = script_languages(text)
    candidates = allowed & script if script is not None else allowed
    if not candidates:
        return None
    if not words:
        # Digits or emoji say nothing against the language the participant uses.
        return known if known in candidates else None
    votes = _votes(words)
    if not candidates.issuperset(votes):
        votes = {lang: v for lang, v in votes.items() if lang in candidates}
    if known in candidates:
        others = sum(v for lang, v in votes.items() if lang != known)
        if votes.get(known, 0.0) > 0 or others < 1.0:
            return known
    if len(candidates) == 1:
        return next(iter(candidates))
    # The first of the highest, as a stable sort by votes would rank them, and the runner-up.
    top = max(votes, key=votes.__getitem__) if votes else None
    top_votes = votes[top] if top is not None else 0.0
    second = max((v for lang, v in votes.items() if lang != top), default=0.0)
    if top is not None and top_votes >= 1.0 and top_votes >= 1.5 * second + 0.25:
        return top
    if len(words) < 2 and not (top_votes >= 0.5 and top_votes > second):
        return None
    scores = dict(votes)
    if statistical and len(" ".join(words)) >= 6:
        for lang, prob in langdetect_scores(text).items():
            if lang in candidates:
                scores[lang] = scores.get(lang, 0.0) + 1.5 * prob
    if not scores:
        return None
    best = max(scores, key=lambda lang: scores[lang])
    return best if scores[best] >= 0.5 else None
