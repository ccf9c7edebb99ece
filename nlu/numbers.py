"""Numbers in replies: digits in any script, and number words in every supported language.

People answer "How many seedlings?" with "500", "1,200", "17 750", "٥٠٠", "mia tano",
"hai mươi lăm" or "quatre-vingt-dix". Each language is described by a small table and one
shared accumulator walks the words. Bantu and Hausa put the scale first ("mia tano" =
100 x 5), the others after ("five hundred"), hence the two kinds of scale word.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from nlu.normalise import ascii_digits, tokens

Number = int | float


@dataclass(frozen=True)
class NumberWords:
    """How one language spells numbers, as folded words."""

    values: dict[str, int]
    after_scales: dict[str, int] = field(default_factory=dict)  # "hundred" in "five hundred"
    before_scales: dict[str, int] = field(default_factory=dict)  # "mia" in "mia tano"
    connectors: frozenset[str] = frozenset()  # "and", "na", "et", ignored inside a number
    pairs: dict[tuple[str, str], int] = field(default_factory=dict)  # "quatre vingt" = 80


def _table(words: str, start: int = 1, step: int = 1) -> dict[str, int]:
    """'one two three' -> {'one': 1, ...}; '/' separates spellings of one value."""
    table: dict[str, int] = {}
    for offset, spellings in enumerate(words.split()):
        for spelling in spellings.split("/"):
            folded = " ".join(tokens(spelling))
            if folded:
                table[folded] = start + offset * step
    return table


def _merge(*tables: dict[str, int]) -> dict[str, int]:
    merged: dict[str, int] = {}
    for table in tables:
        merged.update(table)
    return merged


_HINDI_1_100 = (
    "एक दो तीन चार पाँच/पांच छह/छः/छै सात आठ नौ दस ग्यारह बारह तेरह चौदह पंद्रह/पन्द्रह सोलह सत्रह "
    "अठारह उन्नीस बीस इक्कीस बाईस/बाइस तेईस/तेइस चौबीस पच्चीस छब्बीस सत्ताईस/सत्ताइस अट्ठाईस/अट्ठाइस "
    "उनतीस तीस इकतीस बत्तीस तैंतीस चौंतीस पैंतीस छत्तीस सैंतीस अड़तीस उनतालीस चालीस इकतालीस बयालीस "
    "तैंतालीस चवालीस पैंतालीस छियालीस सैंतालीस अड़तालीस उनचास पचास इक्यावन बावन तिरपन चौवन पचपन "
    "छप्पन सत्तावन अट्ठावन उनसठ साठ इकसठ बासठ तिरसठ चौंसठ पैंसठ छियासठ सड़सठ अड़सठ उनहत्तर सत्तर "
    "इकहत्तर बहत्तर तिहत्तर चौहत्तर पचहत्तर छिहत्तर सतहत्तर अठहत्तर उन्यासी अस्सी इक्यासी बयासी "
    "तिरासी चौरासी पचासी छियासी सत्तासी अट्ठासी नवासी नब्बे इक्यानबे बानबे तिरानबे चौरानबे "
    "पंचानबे छियानबे सत्तानबे अट्ठानबे निन्यानबे"
)
_NEPALI_1_100 = (
    "एक दुई तीन/तिन चार पाँच/पांच छ/छः सात आठ नौ/नो दश/दस एघार बाह्र/बार तेह्र चौध पन्ध्र सोह्र "
    "सत्र अठार/अठार उन्नाइस बीस/बिस एक्काइस बाइस तेइस चौबीस पच्चीस छब्बीस सत्ताइस अठ्ठाइस "
    "उनन्तीस तीस/तिस एकतीस बत्तीस तेत्तीस चौँतीस पैँतीस छत्तीस सैँतीस अठतीस उनन्चालीस चालीस "
    "एकचालीस बयालीस त्रियालीस चवालीस पैँतालीस छयालीस सतचालीस अठचालीस उनन्चास पचास एकाउन्न "
    "बाउन्न त्रिपन्न चवन्न पचपन्न छपन्न सन्ताउन्न अन्ठाउन्न उनन्साठी साठी एकसठ्ठी बैसठ्ठी "
    "त्रिसठ्ठी चौसठ्ठी पैँसठ्ठी छैसठ्ठी सतसठ्ठी अठसठ्ठी उनन्सत्तरी सत्तरी एकहत्तर बहत्तर "
    "त्रिहत्तर चौहत्तर पचहत्तर छयहत्तर सतहत्तर अठहत्तर उनासी असी एकासी बयासी त्रियासी "
    "चौरासी पचासी छयासी सतासी अठासी उनान्नब्बे नब्बे एकान्नब्बे बयान्नब्बे त्रियान्नब्बे "
    "चौरान्नब्बे पन्चान्नब्बे छयान्नब्बे सन्तान्नब्बे अन्ठान्नब्बे उनान्सय"
)
_BENGALI_1_100 = (
    "এক/এ্যাক দুই তিন চার পাঁচ ছয়/ছয় সাত আট নয়/নয় দশ এগারো বারো তেরো চৌদ্দ পনেরো ষোলো "
    "সতেরো আঠারো উনিশ বিশ একুশ বাইশ তেইশ চব্বিশ পঁচিশ ছাব্বিশ সাতাশ আঠাশ উনত্রিশ ত্রিশ "
    "একত্রিশ বত্রিশ তেত্রিশ চৌত্রিশ পঁয়ত্রিশ ছত্রিশ সাঁইত্রিশ আটত্রিশ উনচল্লিশ চল্লিশ একচল্লিশ "
    "বিয়াল্লিশ তেতাল্লিশ চুয়াল্লিশ পঁয়তাল্লিশ ছেচল্লিশ সাতচল্লিশ আটচল্লিশ উনপঞ্চাশ পঞ্চাশ "
    "একান্ন বাহান্ন তিপ্পান্ন চুয়ান্ন পঞ্চান্ন ছাপ্পান্ন সাতান্ন আটান্ন উনষাট ষাট একষট্টি বাষট্টি "
    "তেষট্টি চৌষট্টি পঁয়ষট্টি ছেষট্টি সাতষট্টি আটষট্টি উনসত্তর সত্তর একাত্তর বাহাত্তর তিয়াত্তর "
    "চুয়াত্তর পঁচাত্তর ছিয়াত্তর সাতাত্তর আটাত্তর উনআশি আশি একাশি বিরাশি তিরাশি চুরাশি পঁচাশি "
    "ছিয়াশি সাতাশি আটাশি উননব্বই নব্বই একানব্বই বিরানব্বই তিরানব্বই চুরানব্বই পঁচানব্বই "
    "ছিয়ানব্বই সাতানব্বই আটানব্বই নিরানব্বই"
)

LANGUAGE_NUMBERS: dict[str, NumberWords] = {
    "en": NumberWords(
        values=_merge(
            _table(
                "one two three four five six seven eight nine ten eleven twelve thirteen "
                "fourteen fifteen sixteen seventeen eighteen nineteen"
            ),
            _table("twenty thirty forty/fourty fifty sixty seventy eighty ninety", 20, 10),
            {"zero": 0, "none": 0, "nil": 0, "dozen": 12},
        ),
        after_scales={"hundred": 100, "hundreds": 100, "thousand": 1000, "million": 1_000_000},
        connectors=frozenset({"and"}),
    ),
    "sw": NumberWords(
        values=_merge(
            _table("moja mbili tatu nne tano sita saba nane tisa kumi"),
            _table("ishirini thelathini arobaini hamsini sitini sabini themanini tisini", 20, 10),
            {"sifuri": 0},
        ),
        before_scales={"mia": 100, "elfu": 1000, "laki": 100_000},
        connectors=frozenset({"na"}),
    ),
    "fr": NumberWords(
        values=_merge(
            _table(
                "un/une deux trois quatre cinq six sept huit neuf dix onze douze treize "
                "quatorze quinze seize"
            ),
            _table("vingt trente quarante cinquante soixante", 20, 10),
            {"zero": 0, "septante": 70, "huitante": 80, "octante": 80, "nonante": 90},
        ),
        after_scales={"cent": 100, "cents": 100, "mille": 1000, "milles": 1000, "million": 10**6},
        connectors=frozenset({"et"}),
        pairs={("quatre", "vingt"): 80, ("quatre", "vingts"): 80},
    ),
    "vi": NumberWords(
        # "mười" (ten) and "mươi" (-ty) both fold to "muoi": an after-scale of 10 covers both.
        values=_merge(
            # no "không" = 0 here: unaccented "khong" is far more often "no".
            _table("một/mốt hai ba bốn/tư năm/lăm/nhăm sáu bảy/bẩy tám chín"),
        ),
        after_scales={
            "mươi": 10,
            "chục": 10,
            "trăm": 100,
            "nghìn": 1000,
            "ngàn": 1000,
            "triệu": 10**6,
        },
        connectors=frozenset({"lẻ", "linh"}),
    ),
    "hi": NumberWords(
        values=_merge(_table(_HINDI_1_100), {"शून्य": 0}),
        after_scales={"सौ": 100, "हज़ार": 1000, "हजार": 1000, "लाख": 100_000},
        connectors=frozenset({"और"}),
    ),
    "ne": NumberWords(
        values=_merge(_table(_NEPALI_1_100), {"शून्य": 0}),
        after_scales={"सय": 100, "हजार": 1000, "लाख": 100_000},
        connectors=frozenset({"र"}),
    ),
    "bn": NumberWords(
        values=_merge(
            _table(_BENGALI_1_100),
            _table(
                "একশো/একশ দুশো/দুইশো/দুইশ তিনশো/তিনশ চারশো/চারশ পাঁচশো/পাঁচশ ছয়শো/ছয়শ "
                "সাতশো/সাতশ আটশো/আটশ নয়শো/নয়শ",
                100,
                100,
            ),
            {"শূন্য": 0},
        ),
        after_scales={"শো": 100, "শ": 100, "শত": 100, "হাজার": 1000, "লাখ": 100_000},
        connectors=frozenset({"এবং"}),
    ),
    "ny": NumberWords(
        values=_merge(
            _table(
                "chimodzi/limodzi/umodzi/mmodzi/imodzi/kamodzi/modzi "
                "ziwiri/awiri/iwiri/mawiri/wiri/tiwiri "
                "zitatu/atatu/itatu/matatu/tatu/titatu "
                "zinayi/anayi/inayi/zinai/anai/mayi/tinayi "
                "zisanu/asanu/isanu/masanu/sanu/tisanu"
            ),
            {"khumi": 10, "ziro": 0},
        ),
        before_scales={"makumi": 10, "zana": 100, "mazana": 100, "chikwi": 1000, "zikwi": 1000},
        connectors=frozenset({"ndi"}),
    ),
    "ha": NumberWords(
        values=_merge(
            _table("ɗaya biyu uku huɗu biyar shida bakwai takwas tara goma"),
            _table("ashirin talatin arba'in hamsin sittin saba'in tamanin casa'in", 20, 10),
            {"sifili": 0},
        ),
        before_scales={"ɗari": 100, "dubu": 1000},
        connectors=frozenset({"da", "sha"}),
    ),
    "ar": NumberWords(
        values=_merge(
            _table(
                "واحد/واحده/احد اثنين/اثنان/اتنين/ثنين ثلاثة/ثلاث/تلاته/تلات اربعة/اربع "
                "خمسة/خمس ستة/ست سبعة/سبع ثمانية/ثمان/تمانيه/ثماني تسعة/تسع عشرة/عشر"
            ),
            _table(
                "عشرين/عشرون ثلاثين/ثلاثون/تلاتين اربعين/اربعون خمسين/خمسون ستين/ستون "
                "سبعين/سبعون ثمانين/ثمانون/تمانين تسعين/تسعون",
                20,
                10,
            ),
            _table(
                "مئة/مائة/مية/ميه مئتين/مائتين/ميتين ثلاثمئة/ثلاثمائة/تلتمية اربعمئة/اربعمائة "
                "خمسمئة/خمسمائة/خمسمية ستمئة/ستمائة سبعمئة/سبعمائة ثمانمئة/ثمانمائة "
                "تسعمئة/تسعمائة",
                100,
                100,
            ),
            {"الف": 1000, "الفين": 2000, "الفان": 2000, "صفر": 0},
        ),
        after_scales={"مئات": 100, "الاف": 1000, "ميت": 100},
        connectors=frozenset({"و"}),
    ),
    "kam": NumberWords(
        values=_merge(
            _table(
                "ĩmwe/imwe/umwe ilĩ/ili/eli itatũ/itatu inya/ina itano thanthatũ/thanthatu "
                "mũonza/muonza nyaanya/nyanya kenda ĩkũmi/ikumi"
            ),
        ),
        before_scales={"mĩongo": 10, "miongo": 10, "yĩana": 100, "ngili": 1000},
        connectors=frozenset({"na"}),
    ),
    "yo": NumberWords(
        values=_merge(
            _table(
                "ọ̀kan/ookan/okan/kan méjì/eeji/meji mẹ́ta/eeta/meta mẹ́rin/eerin/merin "
                "márùn/aarun/marun mẹ́fà/eefa/mefa méje/eeje/meje mẹ́jọ/eejo/mejo "
                "mẹ́sàn/eesan/mesan mẹ́wàá/eewa/mewa"
            ),
            _table(
                "mókànlá/mokanla méjìlá/mejila mẹ́tàlá/metala mẹ́rìnlá/merinla "
                "márùndínlógún/marundinlogun",
                11,
            ),
            {"ogún": 20, "ogbọ̀n": 30, "ogójì": 40, "àádọ́ta": 50, "ọgọ́ta": 60, "ọgọ́rùn": 100},
            {"ún": 0, "án": 0},  # the echo in "márùn-ún", "mẹ́sàn-án" adds nothing
        ),
        connectors=frozenset({"àti"}),
    ),
}


def _fold_table(table: NumberWords) -> NumberWords:
    def folded(d: dict[str, int]) -> dict[str, int]:
        return {" ".join(tokens(k)): v for k, v in d.items() if tokens(k)}

    return NumberWords(
        values=folded(table.values),
        after_scales=folded(table.after_scales),
        before_scales=folded(table.before_scales),
        connectors=frozenset(" ".join(tokens(c)) for c in table.connectors),
        pairs={(tokens(a)[0], tokens(b)[0]): v for (a, b), v in table.pairs.items()},
    )


_FOLDED = {lang: _fold_table(table) for lang, table in LANGUAGE_NUMBERS.items()}
_NUMBER_TOKENS = {
    lang: set(t.values) | set(t.after_scales) | set(t.before_scales) for lang, t in _FOLDED.items()
}


_LANGUAGES_OF: dict[str, frozenset[str]] = {}
for _lang, _words in _NUMBER_TOKENS.items():
    for _word in _words:
        _LANGUAGES_OF[_word] = _LANGUAGES_OF.get(_word, frozenset()) | {_lang}


_ALL_NUMBER_WORDS = frozenset(_LANGUAGES_OF)
# Number words with Arabic's glued "and" in front ("وعشرين"), which `word_number` also reads.
_PREFIXED_NUMBER_WORDS = frozenset("و" + word for word in _LANGUAGES_OF)


def number_vocabulary() -> dict[str, set[str]]:
    """Folded number words per language (for language identification)."""
    return {lang: set(words) for lang, words in _NUMBER_TOKENS.items()}


@dataclass(frozen=True)
class NumberMatch:
    value: Number
    words: int  # how many words of the reply the number used
    language: str | None  # None for digits


# 1,200 / 17 750 / 1.200 (thousands) and 2.5 / 2,5 (decimals); "٥٠٠" is made ASCII first.
_DIGITS = re.compile(
    r"(?<![\d.,])(\d{1,3}(?:([,. \u00a0\u202f])\d{3})(?:\2\d{3})*|\d+(?:[.,]\d+)?)"
)


# Any decimal digit in any script: a reply without one skips the number regex entirely.
HAS_DIGIT = re.compile(r"\d")
_NON_DIGITS = re.compile(r"\D")


@lru_cache(maxsize=65536)
def digits_number(text: str) -> Number | None:
    """The first number written with digits, in any script, thousands separators allowed."""
    match = _DIGITS.search(ascii_digits(text))
    if match is None:
        return None
    raw = match.group(1)
    if match.group(2):
        return int(_NON_DIGITS.sub("", raw))
    if "." in raw or "," in raw:
        value = float(raw.replace(",", "."))
        return int(value) if value.is_integer() else value
    return int(raw)


def _split_prefix(word: str, table: NumberWords) -> list[str]:
    """Arabic glues "and" onto the next word: "وعشرين" is "و" + "عشرين"."""
    if "و" in table.connectors and word.startswith("و") and word[1:] in table.values:
        return ["و", word[1:]]
    return [word]


def _walk(words: Sequence[str], table: NumberWords) -> tuple[int | None, int]:
    """Value of the longest number run in the words, and how many words it spans."""
    best: tuple[int | None, int] = (None, 0)
    i = 0
    while i < len(words):
        value, used = _run(words, i, table)
        if used > best[1]:
            best = (value, used)
        i += max(used, 1)
    return best


def _run(words: Sequence[str], start: int, table: NumberWords) -> tuple[int | None, int]:
    total = group = last = 0
    pending = 0  # a before-scale waiting for its multiplier ("mia" in "mia tano")
    seen = False
    used = 0
    i = start
    while i < len(words):
        word = words[i]
        pair = (word, words[i + 1]) if table.pairs and i + 1 < len(words) else None
        if pair is not None and pair in table.pairs:
            group += table.pairs[pair]
            last = table.pairs[pair]
            seen, i = True, i + 2
            used = i - start
            continue
        if word in table.values:
            value = table.values[word]
            if pending:
                group += pending * value
                pending, last = 0, 0
            else:
                group += value
                last = value
        elif word in table.after_scales:
            scale = table.after_scales[word]
            if scale >= 1000:
                total += (group or 1) * scale
                group = 0
            elif last:
                group += last * (scale - 1)
            else:
                group += scale
            last = 0
        elif word in table.before_scales:
            if pending:
                group += pending
            pending, last = table.before_scales[word], 0
        elif seen and word in table.connectors:
            group, pending = group + pending, 0  # "ɗari da ashirin": 100 + 20
            i += 1
            continue  # the connector counts only once a number word follows
        else:
            break
        seen = True
        i += 1
        used = i - start
    if not seen:
        return None, 0
    return total + group + pending, used


@lru_cache(maxsize=65536)
def word_number(text: str, language: str | None = None) -> NumberMatch | None:
    """The number spelled in words, trying `language` first, then every language."""
    return number_in_words(tokens(text), language)


def number_in_words(words: tuple[str, ...], language: str | None) -> NumberMatch | None:
    """`word_number` on words the caller has already folded; uncached."""
    if _ALL_NUMBER_WORDS.isdisjoint(words) and _PREFIXED_NUMBER_WORDS.isdisjoint(words):
        return None  # the usual case, decided in C
    present: set[str] = set()
    for w in words:
        present.update(_LANGUAGES_OF.get(w, ()))
        if w.startswith("و"):
            present.update(_LANGUAGES_OF.get(w[1:], ()))
    if not present:
        return None
    order = [lang for lang in _FOLDED if lang in present]
    if language in present:
        order.remove(language)
        order.insert(0, language)
    best: NumberMatch | None = None
    for lang in order:
        table = _FOLDED[lang]
        split = (
            [part for w in words for part in _split_prefix(w, table)]
            if "و" in table.connectors
            else words
        )
        value, used = _walk(split, table)
        if value is not None and (best is None or used > best.words):
            best = NumberMatch(value, used, lang)
    return best


def parse_number(text: str, language: str | None = None) -> Number | None:
    """Digits first (they are unambiguous), then number words."""
    value = digits_number(text)
    if value is not None:
        return value
    match = word_number(text, language)
    return None if match is None else match.value
