"""The web chat's phone form in a real headless Chromium, on a narrow phone-sized screen:
the code goes out through the outbox and the fake Twilio, is typed back, and the chat opens
speaking as that number."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from heard.config import TwilioSettings
from sms_gateway.worker import drain_once
from storage import models as m

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]

if CHROMIUM is None:
    pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture
def settings(settings, fake_twilio):
    return settings.with_overrides(
        twilio=TwilioSettings(fake_twilio.account_sid, fake_twilio.auth_token, "+15005550006"),
        twilio_api_base=fake_twilio.url,
    )


@pytest.fixture
def phone_page(live_server) -> Iterator:
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 320, "height": 568})
        page.goto(f"{live_server}/chat/ngiluni")
        yield page
        browser.close()


def test_verify_then_chat_as_the_phone(db, services, organisation, fake_twilio, phone_page):
    with db.session() as session:
        session.get(m.Organisation, organisation.id).settings = {
            "join_poll": "water-point",
            "webchat_requires_phone": True,
        }
    page = phone_page
    page.reload()
    assert page.is_hidden("#send")

    page.fill("#phone", "0712 345 678")
    page.click("#vbutton")
    page.wait_for_selector("#code", state="visible")
    assert "+2547•••••678" in page.inner_text("#vnote")
    drain_once(services)
    [code] = re.findall(r"\d{6}", fake_twilio.messages[-1]["body"])

    page.fill("#code", "000000" if code != "000000" else "111111")
    page.click("#vbutton")
    page.wait_for_function("document.getElementById('vnote').textContent.includes('not right')")

    page.fill("#code", code)
    page.click("#vbutton")
    page.wait_for_selector("#send", state="visible")
    assert page.inner_text("#number") == "+2547•••••678"

    page.fill("#text", "JOIN")
    page.click("#send button")
    page.wait_for_selector("text=Reply YES to agree")
    with db.session() as session:
        assert session.scalar(sa.select(m.InboundMessage.sender)) == "+254712345678"


def test_use_without_a_phone_number(db, organisation, phone_page):
    page = phone_page
    page.click("#anon")
    assert page.is_hidden("#verify")
    page.fill("#text", "JOIN")
    page.click("#send button")
    page.wait_for_selector("text=Reply YES to agree")
    with db.session() as session:
        assert session.scalar(sa.select(m.InboundMessage.sender)).startswith("web:")
