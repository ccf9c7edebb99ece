"""Fixtures for the provider modules: the fake Twilio and Africa's Talking APIs.

Each fake is a real HTTP server on 127.0.0.1; the official SDKs send to it. After every
test the fake must have rejected nothing, unless the test sends bad requests on purpose
and says so with `fake.expect_rejections = True`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.fake_africastalking import FakeAfricasTalking
from tests.fakes.fake_twilio import FakeTwilio


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    fake = FakeTwilio()
    with fake:
        yield fake
    if not fake.expect_rejections:
        assert fake.rejections == [], "the fake Twilio rejected requests"


@pytest.fixture
def fake_at() -> Iterator[FakeAfricasTalking]:
    fake = FakeAfricasTalking()
    with fake:
        yield fake
    if not fake.expect_rejections:
        assert fake.rejections == [], "the fake Africa's Talking rejected requests"
