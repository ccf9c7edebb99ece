"""Asking a Rasa server, and living without it.

Rasa answers ~100-250 parses/s per process and takes a minute to load, so a slow or dead
server must not stall replies: a short timeout, and a circuit breaker that stops asking
for a cool-down after repeated failures.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

import requests

from nlu.interpretation import INTENTS, ChoiceOption, Interpretation, Interpreter

log = logging.getLogger(__name__)


class CircuitBreaker:
    """Closed -> open after `failures` in a row; after `cooldown` seconds one trial call."""

    def __init__(
        self,
        *,
        failures: int = 3,
        cooldown: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._threshold = failures
        self._cooldown = cooldown
        self._clock = clock
        self._consecutive = 0
        self._opened_at: float | None = None

    @property
    def is_open(self) -> bool:
        return self._opened_at is not None and self._clock() - self._opened_at < self._cooldown

    def allow(self) -> bool:
        return not self.is_open

    def record_success(self) -> None:
        self._consecutive = 0
        self._opened_at = None

    def record_failure(self) -> None:
        self._consecutive += 1
        if self._consecutive >= self._threshold:
            self._opened_at = self._clock()


class RasaError(Exception):
    """Rasa did not give a usable answer (down, slow, or garbled)."""


class RasaClient:
    """POST {url}/model/parse; returns (intent, confidence) from Rasa's NLU."""

    def __init__(
        self, url: str, *, timeout: float = 0.3, session: requests.Session | None = None
    ) -> None:
        self._endpoint = url.rstrip("/") + "/model/parse"
        self._timeout = timeout
        self._session = session or requests.Session()

    def classify(self, text: str) -> tuple[str, float]:
        try:
            response = self._session.post(
                self._endpoint, json={"text": text}, timeout=self._timeout
            )
            response.raise_for_status()
            body = response.json()
            intent = body["intent"]
            name = str(intent["name"]) if intent.get("name") else "nlu_fallback"
            confidence = float(intent["confidence"])
        except (requests.RequestException, ValueError, KeyError, TypeError) as error:
            raise RasaError(str(error)) from error
        if not 0.0 <= confidence <= 1.0:
            raise RasaError(f"confidence out of range: {confidence}")
        return (name if name in INTENTS else "nlu_fallback"), confidence


class RasaInterpreter:
    """Rasa's intent; language, number and choice still come from the built-in rules."""

    def __init__(self, client: RasaClient, builtin: Interpreter) -> None:
        self._client = client
        self._builtin = builtin

    def parse(
        self,
        text: str,
        language_hint: str | None = None,
        choices: Sequence[ChoiceOption] | None = None,
    ) -> Interpretation:
        base = self._builtin.parse(text, language_hint, choices)
        intent, confidence = self._client.classify(text)
        return _merge(base, intent, confidence)


def _merge(base: Interpretation, intent: str, confidence: float) -> Interpretation:
    number = base.number if intent == "number" else None
    if intent == "number" and number is None:
        # Rasa heard a number the rules could not read: no value is no answer.
        return base
    return replace(base, intent=intent, confidence=confidence, number=number)


class CombinedInterpreter:
    """Built-in first; Rasa only when the rules are unsure and the breaker is closed."""

    def __init__(
        self,
        builtin: Interpreter,
        client: RasaClient,
        *,
        sure: float = 0.8,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self._builtin = builtin
        self._client = client
        self._sure = sure
        self.breaker = breaker or CircuitBreaker()

    def parse(
        self,
        text: str,
        language_hint: str | None = None,
        choices: Sequence[ChoiceOption] | None = None,
    ) -> Interpretation:
        base = self._builtin.parse(text, language_hint, choices)
        if base.confidence >= self._sure or not base.text.strip() or not self.breaker.allow():
            return base
        try:
            intent, confidence = self._client.classify(text)
        except RasaError as error:
            self.breaker.record_failure()
            log.warning("Rasa unavailable, using built-in NLU: %s", error)
            return base
        self.breaker.record_success()
        if intent == "nlu_fallback" or confidence <= base.confidence:
            return base
        return _merge(base, intent, confidence)
