"""Against a REAL Rasa server (`.ci/rasa.sh` starts one); skipped without HEARD_TEST_RASA_URL."""

from __future__ import annotations

import os

import pytest

from nlu import INTENTS
from nlu.rasa_client import RasaClient

pytestmark = pytest.mark.rasa

URL = os.environ.get("HEARD_TEST_RASA_URL")


@pytest.fixture
def client() -> RasaClient:
    if not URL:
        pytest.skip("HEARD_TEST_RASA_URL is not set")
    return RasaClient(URL, timeout=10.0)


@pytest.mark.parametrize(
    ("reply", "intent"),
    [
        ("yes", "affirm"),
        ("hapana", "deny"),
        ("msaada", "help"),
        ("stop", "stop"),
        ("ishirini na tano", "number"),
        ("jiunge", "start"),
    ],
)
def test_rasa_classifies_training_like_replies(client: RasaClient, reply: str, intent: str):
    got, confidence = client.classify(reply)
    assert got == intent
    assert 0.0 <= confidence <= 1.0


def test_rasa_answers_with_known_intents(client: RasaClient) -> None:
    for reply in ("asdfgh qwerty", "Tôi không muốn nhận tin nữa", "😀"):
        assert client.classify(reply)[0] in INTENTS
