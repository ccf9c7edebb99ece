"""Understanding short replies: language, intent, numbers and choices."""

from __future__ import annotations

from nlu.interpretation import INTENTS, ChoiceOption, Interpretation, Interpreter
from nlu.interpreter import BuiltinInterpreter
from nlu.rasa_client import CircuitBreaker, CombinedInterpreter, RasaClient

__all__ = [
    "INTENTS",
    "BuiltinInterpreter",
    "ChoiceOption",
    "CircuitBreaker",
    "Interpretation",
    "Interpreter",
    "build_interpreter",
]


def build_interpreter(
    rasa_url: str | None,
    *,
    timeout: float = 0.3,
    breaker: CircuitBreaker | None = None,
) -> Interpreter:
    """The built-in interpreter, backed by Rasa for unsure replies when a URL is given."""
    builtin = BuiltinInterpreter()
    if not rasa_url:
        return builtin
    return CombinedInterpreter(builtin, RasaClient(rasa_url, timeout=timeout), breaker=breaker)
