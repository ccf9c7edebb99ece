"""The one value the NLU hands to the engine."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

INTENTS = ("affirm", "deny", "stop", "start", "help", "number", "nlu_fallback")


@dataclass(frozen=True)
class ChoiceOption:
    """A choice the reply may name: its stored value and its labels in every language."""

    value: str
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Interpretation:
    text: str
    intent: str
    confidence: float
    language: str | None = None
    number: int | float | None = None
    choice: str | None = None

    def as_json(self) -> dict:
        return {
            "text": self.text,
            "intent": self.intent,
            "confidence": round(self.confidence, 4),
            "language": self.language,
            "number": self.number,
            "choice": self.choice,
        }


class Interpreter(Protocol):
    def parse(
        self,
        text: str,
        language_hint: str | None = None,
        choices: Sequence[ChoiceOption] | None = None,
    ) -> Interpretation: ...
