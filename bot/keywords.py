"""Keywords that win over everything else, in every supported language.

A keyword is the whole message (after folding case, accents and punctuation), or its first
word for START/JOIN-style words followed by a name or a code. They are decided by rule,
before any NLU, so `STOP` can never be misread as an answer.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import sqlalchemy.orm as so

from storage import queries
from storage.cache import cached

STOP, START, HELP, LANGUAGE, DELETE = "stop", "start", "help", "language", "delete"
# Organisation-defined actions (storage `Keyword.action`).
REPLY, POLL, REPORT = "reply", "poll", "report"

# Words that may lead a longer message: "JOIN Ngiluni", "LUGHA 2", "MITI 500 shule".
TAKES_ARGUMENT = frozenset({START, LANGUAGE, REPORT})

# Skipping an optional (profile) question; only meaningful inside a flow, never global.
SKIP_WORDS: tuple[str, ...] = (
    "skip",
    "pass",
    "next",
    "ruka",
    "pita",
    "passer",
    "suivant",
    "bo qua",
    "tiep",
    "छोड़ें",
    "छोड़ो",
    "chhodo",
    "এড়িয়ে যান",
    "বাদ",
    "bad",
    "छोड्नुहोस्",
    "dumpha",
    "tsallake",
    "تخطي",
    "تخط",
)

# The join word also tells us the language a newcomer speaks.
BUILTIN_KEYWORDS: dict[str, dict[str, tuple[str, ...]]] = {
    STOP: {
        "en": ("stop", "stopall", "unsubscribe", "cancel", "end", "quit", "opt out", "optout"),
        "sw": ("acha", "simama", "sitisha", "komesha"),
        "fr": ("arret", "arreter", "stop", "desabonner"),
        # Not bare "dung": folded, "Đúng" (right, yes) and "dừng" (stop) meet; the NLU
        # lexicon tells them apart by their accents.
        "vi": ("dung lai", "huy"),
        "hi": ("बंद", "रोकें", "रोको", "band"),
        "bn": ("বন্ধ", "থামুন", "bondho"),
        "ne": ("रोक", "रोक्नुहोस्", "बन्द", "banda"),
        "ny": ("siyani", "imitsani", "lekani"),
        "ha": ("daina", "tsaya"),
        "ar": ("توقف", "الغاء", "إلغاء", "قف"),
    },
    START: {
        "en": ("start", "join", "unstop", "subscribe", "yes start"),
        "sw": ("jiunge", "jiunga", "anza"),
        "fr": ("rejoindre", "commencer", "inscription"),
        "vi": ("tham gia", "bat dau", "dang ky"),
        "hi": ("जुड़ें", "शुरू", "shuru", "judein"),
        "bn": ("যোগ দিন", "শুরু", "shuru"),
        "ne": ("सामेल", "सुरु", "suru"),
        "ny": ("lowani", "yambani", "lowa"),
        "ha": ("shiga", "fara"),
        "ar": ("انضم", "ابدأ", "اشتراك"),
    },
    HELP: {
        "en": ("help", "info"),
        "sw": ("msaada", "saidia"),
        "fr": ("aide", "aider"),
        "vi": ("giup", "tro giup", "giup do"),
        "hi": ("मदद", "सहायता", "madad"),
        "bn": ("সাহায্য", "sahajjo"),
        "ne": ("मद्दत", "सहायता", "maddat"),
        "ny": ("thandizo", "thandizani"),
        "ha": ("taimako", "taimaka"),
        "ar": ("مساعدة", "مساعده"),
    },
    LANGUAGE: {
        "en": ("language", "lang"),
        "sw": ("lugha",),
        "fr": ("langue",),
        "vi": ("ngon ngu",),
        "hi": ("भाषा", "bhasha"),
        "bn": ("ভাষা", "bhasha"),
        "ne": ("भाषा",),
        "ny": ("chilankhulo",),
        "ha": ("harshe",),
        "ar": ("لغة", "اللغة"),
    },
    DELETE: {
        "en": ("delete", "erase", "delete my data", "forget me"),
        "sw": ("futa", "futa data"),
        "fr": ("supprimer", "effacer"),
        "vi": ("xoa", "xoa du lieu"),
        "hi": ("हटाएं", "मिटाएं", "hatao"),
        "bn": ("মুছুন", "muchhun"),
        "ne": ("मेटाउनुहोस्", "metau"),
        "ny": ("fufutani", "chotsani"),
        "ha": ("goge",),
        "ar": ("احذف", "حذف", "امسح"),
    },
}

_SPACES = re.compile(r"\s+")


def fold(text: str) -> str:
    """Lower-case, strip Latin accents and punctuation, squeeze spaces.

    Combining marks are only dropped from Latin letters: in Devanagari or Bengali they are
    vowel signs, and dropping them would change the word.
    """
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    kept = []
    for char in decomposed:
        if unicodedata.combining(char) and kept and kept[-1].isascii():
            continue
        kept.append(char)
    folded = unicodedata.normalize("NFC", "".join(kept)).replace("đ", "d")
    # By Unicode category, not `\W`: Devanagari vowel signs (ं, ि) are marks, not word
    # characters to re, and dropping them would make "बंद" into "ब द".
    folded = "".join(" " if unicodedata.category(c)[0] in "PSC" else c for c in folded)
    return _SPACES.sub(" ", folded).strip()


def is_skip(text: str) -> bool:
    return fold(text) in _SKIP


@dataclass(frozen=True)
class KeywordMatch:
    action: str
    language: str | None
    rest: str = ""
    argument: str = ""
    # The folded word that matched: an organisation keyword's row is found by it.
    word: str = ""


class KeywordTable:
    """Built-in keywords plus an organisation's own (`{word: (action, argument)}`)."""

    def __init__(self, custom: Mapping[str, tuple[str, str]] | None = None):
        self._exact: dict[str, tuple[str, str | None, str]] = {}
        for action, by_language in BUILTIN_KEYWORDS.items():
            for language, words in by_language.items():
                for word in words:
                    self._exact.setdefault(fold(word), (action, language, ""))
        for word, (action, argument) in (custom or {}).items():
            self._exact[fold(word)] = (action, None, argument)
        self._longest = max((len(k.split()) for k in self._exact), default=1)

    def match(self, text: str) -> KeywordMatch | None:
        folded = fold(text)
        if not folded:
            return None
        hit = self._exact.get(folded)
        if hit:
            return KeywordMatch(hit[0], hit[1], "", hit[2], folded)
        # "JOIN Ngiluni", "LUGHA 2": some words may lead a longer message.
        words = folded.split()
        for size in range(min(self._longest, len(words) - 1), 0, -1):
            head = " ".join(words[:size])
            hit = self._exact.get(head)
            if hit and hit[0] in TAKES_ARGUMENT:
                return KeywordMatch(hit[0], hit[1], " ".join(words[size:]), hit[2], head)
        return _lexicon_keyword(text)

    def words(self, action: str) -> Iterable[str]:
        return (word for word, (a, _, _) in self._exact.items() if a == action)


_SKIP = frozenset(fold(word) for word in SKIP_WORDS)


def keyword_table(session: so.Session, organisation_id: int) -> KeywordTable:
    """The organisation's table, built (every keyword folded) once per cache lifetime
    rather than on every message."""
    return cached(
        session,
        ("keyword_table", organisation_id),
        lambda: KeywordTable(queries.custom_keywords(session, organisation_id)),
    )


def _lexicon_keyword(text: str) -> KeywordMatch | None:
    """The NLU's keyword lexicon knows more spellings ("dừng lại", "aidez moi"); it is
    exact-match only, so it is as safe as our own table. Optional: `bot` works without it."""
    try:
        from nlu.lexicon import keyword_intent
    except ImportError:  # pragma: no cover - the NLU package is part of the install
        return None
    intent = keyword_intent(text)
    if intent in (STOP, START, HELP):
        return KeywordMatch(intent, None, "", "", fold(text))
    return None
