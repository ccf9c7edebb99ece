"""The combined interpreter against a local HTTP double of Rasa: timeouts, errors, breaker."""

from __future__ import annotations

from nlu import BuiltinInterpreter, CircuitBreaker, build_interpreter
from nlu.rasa_client import CombinedInterpreter, RasaClient, RasaError


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


UNSURE_REPLY = "the pump makes a strange noise"  # the rules have no opinion on this


def combined(url: str, clock: Clock, *, timeout: float = 0.3) -> CombinedInterpreter:
    breaker = CircuitBreaker(failures=2, cooldown=30.0, clock=clock)
    interpreter = build_interpreter(url, timeout=timeout, breaker=breaker)
    assert isinstance(interpreter, CombinedInterpreter)
    return interpreter


def test_without_url_the_builtin_answers_alone() -> None:
    assert isinstance(build_interpreter(None), BuiltinInterpreter)


def test_sure_replies_never_reach_rasa(fake_rasa) -> None:
    nlu = combined(fake_rasa.url, Clock())
    assert nlu.parse("ndiyo").intent == "affirm"
    assert nlu.parse("mia tano").number == 500
    assert fake_rasa.calls == 0


def test_unsure_replies_ask_rasa(fake_rasa) -> None:
    fake_rasa.intent, fake_rasa.confidence = "affirm", 0.93
    result = combined(fake_rasa.url, Clock()).parse(UNSURE_REPLY)
    assert fake_rasa.calls == 1
    assert (result.intent, result.confidence) == ("affirm", 0.93)


def test_rasa_fallback_keeps_the_builtin_answer(fake_rasa) -> None:
    fake_rasa.intent = "nlu_fallback"
    result = combined(fake_rasa.url, Clock()).parse(UNSURE_REPLY)
    assert result.intent == "nlu_fallback"
    assert fake_rasa.calls == 1


def test_unknown_intent_from_rasa_is_ignored(fake_rasa) -> None:
    fake_rasa.intent = "greet"
    assert combined(fake_rasa.url, Clock()).parse(UNSURE_REPLY).intent == "nlu_fallback"


def test_number_without_value_is_not_trusted(fake_rasa) -> None:
    fake_rasa.intent = "number"
    assert combined(fake_rasa.url, Clock()).parse(UNSURE_REPLY).intent == "nlu_fallback"


def test_breaker_opens_after_errors_and_recovers(fake_rasa) -> None:
    clock = Clock()
    nlu = combined(fake_rasa.url, clock)
    fake_rasa.mode = "error"
    for _ in range(2):
        assert nlu.parse(UNSURE_REPLY).intent == "nlu_fallback"
    assert fake_rasa.calls == 2
    assert nlu.breaker.is_open
    nlu.parse(UNSURE_REPLY)
    assert fake_rasa.calls == 2  # skipped during the cool-down
    clock.advance(31)
    fake_rasa.mode, fake_rasa.intent = "ok", "deny"
    assert nlu.parse(UNSURE_REPLY).intent == "deny"
    assert fake_rasa.calls == 3
    assert not nlu.breaker.is_open


def test_slow_rasa_times_out(fake_rasa) -> None:
    fake_rasa.mode, fake_rasa.delay = "slow", 2.0
    clock = Clock()
    nlu = combined(fake_rasa.url, clock, timeout=0.2)
    result = nlu.parse(UNSURE_REPLY)
    assert result.intent == "nlu_fallback"
    nlu.parse(UNSURE_REPLY)
    assert nlu.breaker.is_open


def test_garbled_answer_counts_as_failure(fake_rasa) -> None:
    fake_rasa.mode = "garbled"
    client = RasaClient(fake_rasa.url)
    try:
        client.classify("x")
    except RasaError:
        pass
    else:
        raise AssertionError("garbled JSON accepted")
    nlu = combined(fake_rasa.url, Clock())
    assert nlu.parse(UNSURE_REPLY).intent == "nlu_fallback"


def test_rasa_down_falls_back() -> None:
    nlu = combined("http://127.0.0.1:9", Clock())  # discard port: nothing listens
    assert nlu.parse(UNSURE_REPLY).intent == "nlu_fallback"
    assert nlu.parse("hapana").intent == "deny"
