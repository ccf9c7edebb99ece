"""Which language a short reply is written in.

Statistical detectors guess wildly on one or two words ("ok", "ee", "na"), and langdetect
knows no Chichewa, Hausa, Kamba or Yoruba. So the order is: the participant's known
language when the reply fits it, then the script, then our lexicons, and langdetect only
to settle longer Latin-script replies the lexicons leave open.
"""

from __future__ import annotations

import json
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from nlu.lexicon import LANGUAGES, stem_languages, word_languages
from nlu.normalise import tokens
from nlu.numbers import number_vocabulary

# The supported languages langdetect has profiles for.
LANGDETECT_LANGUAGES = ("en", "sw", "fr", "vi", "hi", "bn", "ne", "ar")

_VI_LETTERS = frozenset("ăđơưạảấầẩẫậắằẳẵặẻẽếềểễệỉịỏốồổỗộớờởỡợụủứừửữựỳỵỷỹõ")
_KAMBA_LETTERS = frozenset("ĩũ")
_FR_LETTERS = frozenset("çëîïœûÿ")
_FR_OR_VI_LETTERS = frozenset("âêô")
_HAUSA_LETTERS = frozenset("ɗƙɓƴ")
_YORUBA_LETTERS = frozenset("ṣ")

_NUMBER_WORDS: dict[str, frozenset[str]] = {}
for _lang, _words in number_vocabulary().items():
    for _word in _words:
        _NUMBER_WORDS[_word] = _NUMBER_WORDS.get(_word, frozenset()) | {_lang}


def script_languages(text: str) -> frozenset[str] | None:
    """Languages the characters allow, or None when they allow any Latin-script language."""
    if text.isascii():
        return None
    lowered = text.casefold()
    found: set[str] = set()
    for ch in lowered:
        code = ord(ch)
        if 0x0900 <= code <= 0x097F:
            found.update(("hi", "ne"))
        elif 0x0980 <= code <= 0x09FF:
            found.add("bn")
        elif 0x0600 <= code <= 0x06FF or 0xFB50 <= code <= 0xFEFF:
            found.add("ar")
    if found:
        return frozenset(found)
    letters = set(lowered)
    if letters & _HAUSA_LETTERS:
        return frozenset({"ha"})
    nfc = unicodedata.normalize("NFC", lowered)
    # Yoruba tone marks on dotted vowels ("ẹ́", "ọ̀") have no precomposed form.
    if letters & _YORUBA_LETTERS or any(unicodedata.combining(c) for c in nfc):
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
    votes: dict[str, float] = defaultdict(float)
    for word in tokens(text):
        if word.isdigit():
            continue
        languages = word_languages(word) | _NUMBER_WORDS.get(word, frozenset())
        if not languages:
            languages = stem_languages(word)
        if not languages:
            continue
        share = 1.0 / len(languages)
        for language in languages:
            votes[language] += share
    return dict(votes)


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
    words = [w for w in tokens(text) if not w.isdigit()]
    script = script_languages(text)
    candidates = allowed & script if script is not None else allowed
    if not candidates:
        return None
    if not words:
        # Digits or emoji say nothing against the language the participant uses.
        return known if known in candidates else None
    votes = {lang: v for lang, v in lexicon_votes(text).items() if lang in candidates}
    others = sum(v for lang, v in votes.items() if lang != known)
    if known in candidates and (votes.get(known, 0.0) > 0 or others < 1.0):
        return known
    if len(candidates) == 1:
        return next(iter(candidates))
    ranked = sorted(votes.items(), key=lambda item: -item[1])
    top, top_votes = ranked[0] if ranked else (None, 0.0)
    second = ranked[1][1] if len(ranked) > 1 else 0.0
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
