"""Intents, numbers and choices of the built-in interpreter, per language."""

from __future__ import annotations

import pytest

from nlu import INTENTS, BuiltinInterpreter, ChoiceOption
from nlu.lexicon import keyword_intent

nlu = BuiltinInterpreter()

INTENT_CASES = [
    # (reply, intent)
    ("yes", "affirm"),
    ("Yes sir", "affirm"),
    ("no", "deny"),
    ("No it is not", "deny"),
    ("please stop sending me messages", "stop"),
    ("I don't want any more messages", "stop"),
    ("help me please", "help"),
    ("ndiyo", "affirm"),
    ("ndio", "affirm"),
    ("eeh", "affirm"),
    ("hapana", "deny"),
    ("sitaki ujumbe tena", "stop"),
    ("msaada tafadhali", "help"),
    ("oui", "affirm"),
    ("non", "deny"),
    ("je ne veux plus de messages", "stop"),
    ("aide-moi", "help"),
    ("có", "affirm"),
    ("co", "affirm"),
    ("không", "deny"),
    ("khong", "deny"),
    ("Đúng", "affirm"),
    ("tôi không muốn nhận tin nữa", "stop"),
    ("giúp với", "help"),
    ("हाँ", "affirm"),
    ("haan", "affirm"),
    ("nahi", "deny"),
    ("नहीं", "deny"),
    ("बंद कर दो", "stop"),
    ("मदद करो", "help"),
    ("হ্যাঁ", "affirm"),
    ("না", "deny"),
    ("জ্বি না", "deny"),
    ("আর পাঠাবেন না", "stop"),
    ("হো", "nlu_fallback"),
    ("हो", "affirm"),
    ("होइन", "deny"),
    ("ho hajur", "affirm"),
    ("मद्दत गर्नुहोस्", "help"),
    ("inde", "affirm"),
    ("ayi", "deny"),
    ("ndikufuna kuleka", "stop"),
    ("thandizani", "help"),
    ("eh", "affirm"),
    ("a'a", "deny"),
    ("A'a, ban samu ba", "deny"),
    ("ku tsaya", "stop"),
    ("ina son taimako", "help"),
    ("نعم", "affirm"),
    ("لا", "deny"),
    ("ما بدي رسائل", "stop"),
    ("محتاج مساعدة", "help"),
    ("JOIN", "start"),
    ("jiunge", "start"),
    ("tham gia", "start"),
    ("asdfgh", "nlu_fallback"),
    ("👍👍", "nlu_fallback"),
    ("", "nlu_fallback"),
]


@pytest.mark.parametrize(("reply", "intent"), INTENT_CASES)
def test_intent(reply: str, intent: str) -> None:
    assert nlu.parse(reply).intent == intent


def test_nonsense_has_low_confidence() -> None:
    for reply in ("asdfgh", "😀😀", "", "   ", "???"):
        result = nlu.parse(reply)
        assert result.intent == "nlu_fallback"
        assert result.confidence < 0.5


@pytest.mark.parametrize(
    ("reply", "keyword"),
    [
        ("STOP", "stop"),
        ("stopall", "stop"),
        ("Unsubscribe", "stop"),
        ("cancel", "stop"),
        ("end", "stop"),
        ("quit", "stop"),
        ("acha", "stop"),
        ("simamisha", "stop"),
        ("dừng", "stop"),
        ("arrêter", "stop"),
        ("arreter", "stop"),
        ("बंद", "stop"),
        ("থামুন", "stop"),
        ("रोक", "stop"),
        ("leka", "stop"),
        ("daina", "stop"),
        ("توقف", "stop"),
        ("START", "start"),
        ("join", "start"),
        ("JIUNGE", "start"),
        ("THAM GIA", "start"),
        ("rejoindre", "start"),
        ("जुड़ें", "start"),
        ("HELP", "help"),
        ("info", "help"),
        ("MSAADA", "help"),
        ("giúp", "help"),
        ("aide", "help"),
        ("मदद", "help"),
        ("সাহায্য", "help"),
        ("thandizo", "help"),
        ("taimako", "help"),
        ("مساعدة", "help"),
        # Not keywords: sentences, answers, and "đúng" (right), which folds like "dừng".
        ("acha kunitumia", None),
        ("yes", None),
        ("Đúng", None),
        ("stop it now please", None),
        ("", None),
    ],
)
def test_keyword_intent(reply: str, keyword: str | None) -> None:
    assert keyword_intent(reply) == keyword


NUMBER_CASES = [
    ("18", 18),
    ("1,200", 1200),
    ("17 750", 17750),
    ("2.5", 2.5),
    ("٥٠٠", 500),
    ("۱۲", 12),
    ("१७", 17),
    ("৯০", 90),
    ("tumepanda miche 120 leo", 120),
    ("We planted 300 trees", 300),
    ("MITI 500", 500),
    ("twenty five", 25),
    ("one hundred and twenty", 120),
    ("two thousand five hundred", 2500),
    ("ishirini na tano", 25),
    ("mia moja", 100),
    ("mia tano", 500),
    ("elfu mbili", 2000),
    ("kumi na nane", 18),
    ("elfu moja mia mbili", 1200),
    ("vingt-cinq", 25),
    ("quatre-vingt-dix", 90),
    ("soixante et onze", 71),
    ("trois cents", 300),
    ("hai mươi lăm", 25),
    ("một trăm", 100),
    ("hai muoi lam", 25),
    ("một trăm lẻ năm", 105),
    ("पच्चीस", 25),
    ("तीन सौ", 300),
    ("दो हज़ार", 2000),
    ("পঁচিশ", 25),
    ("তিনশো", 300),
    ("দুই হাজার", 2000),
    ("पच्चीस", 25),
    ("तिन सय", 300),
    ("अठार", 18),
    ("makumi awiri ndi ziwiri", 22),
    ("zisanu ndi zitatu", 8),
    ("mazana awiri", 200),
    ("ashirin da biyu", 22),
    ("goma sha takwas", 18),
    ("ɗari uku", 300),
    ("dubu biyu", 2000),
    ("ɗari da ashirin", 120),
    ("اثنين وعشرين", 22),
    ("ثلاثمئة", 300),
    ("مئة وعشرين", 120),
    ("ثلاثة عشر", 13),
    ("mẹ́fà", 6),
    ("márùn-ún", 5),
]


@pytest.mark.parametrize(("reply", "number"), NUMBER_CASES)
def test_number(reply: str, number: float) -> None:
    result = nlu.parse(reply)
    assert result.intent == "number"
    assert result.number == number


def test_no_number_when_the_reply_is_an_answer() -> None:
    assert nlu.parse("yes").number is None
    assert nlu.parse("khong").number is None


WATER = (
    ChoiceOption("yes", ("Yes", "Ndiyo", "Có", "Oui")),
    ChoiceOption("partly", ("Partly", "Kiasi", "Một phần", "En partie")),
    ChoiceOption("no", ("No", "Hapana", "Không", "Non")),
    ChoiceOption("dont_know", ("Don't know", "Sijui", "Không biết", "Je ne sais pas")),
)


@pytest.mark.parametrize(
    ("reply", "choice"),
    [
        ("1", "yes"),
        ("2", "partly"),
        ("4", "dont_know"),
        ("5", None),
        ("partly", "partly"),
        ("dont_know", "dont_know"),
        ("KIASI", "partly"),
        ("mot phan", "partly"),
        ("Một phần", "partly"),
        ("par", "partly"),
        ("sij", "dont_know"),
        ("kh", None),
        ("ndio", "yes"),
        ("eeh", "yes"),
        ("hapana", "no"),
        ("khong biet", "dont_know"),
        ("Không", "no"),
        ("en partie je crois", "partly"),
        ("asdfgh", None),
    ],
)
def test_choice(reply: str, choice: str | None) -> None:
    assert nlu.parse(reply, choices=WATER).choice == choice


def test_choice_absent_without_choices() -> None:
    assert nlu.parse("1").choice is None


def test_intents_are_known() -> None:
    for reply, _ in INTENT_CASES + [(r, 0) for r, _ in NUMBER_CASES]:
        assert nlu.parse(reply).intent in INTENTS
