"""Fixtures for conversation tests: a console phone and a multilingual organisation."""

from __future__ import annotations

import pytest

from sms_gateway.console import ConsoleGateway
from storage import models as m
from tests.bot.conversation import WATER_POLL_HI_VI


@pytest.fixture
def phone(services, organisation) -> ConsoleGateway:
    return ConsoleGateway(services.engine, "KE")


@pytest.fixture
def multilingual(db, organisation) -> m.Organisation:
    """The Kenyan organisation, also speaking French, Vietnamese and Hindi, whose join poll
    has translations in all five."""
    from bot.flows.poll_format import load_poll
    from bot.polls import save_poll

    with db.session() as session:
        org = session.get(m.Organisation, organisation.id)
        org.languages = ["en", "sw", "fr", "vi", "hi"]
        save_poll(session, org.id, load_poll(WATER_POLL_HI_VI))
        return org
