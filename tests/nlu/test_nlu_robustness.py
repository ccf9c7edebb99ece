"""The interpreter never raises and always answers with a known intent."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from nlu import INTENTS, BuiltinInterpreter, ChoiceOption
from nlu.lexicon import keyword_intent

nlu = BuiltinInterpreter()
CHOICES = (ChoiceOption("yes", ("Yes", "Ndiyo")), ChoiceOption("no", ("No", "Hapana")))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200), st.sampled_from([None, "en", "sw", "xx"]))
def test_any_text(text: str, hint: str | None) -> None:
    result = nlu.parse(text, language_hint=hint, choices=CHOICES)
    assert result.intent in INTENTS
    assert 0.0 <= result.confidence <= 1.0
    assert result.text == text
    assert keyword_intent(text) in (None, "stop", "start", "help")


@settings(max_examples=50, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), min_size=1500, max_size=2000))
def test_long_text(text: str) -> None:
    assert nlu.parse(text).intent in INTENTS


def test_control_characters_and_emoji() -> None:
    for text in ("\x00\x01\x1b[31mSTOP", "ndiyo\u200b", "😀" * 2000, "\ufeffyes", "1\u00a0200"):
        assert nlu.parse(text).intent in INTENTS
    assert nlu.parse("1\u00a0200").number == 1200
